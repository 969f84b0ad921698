package api

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// maxTemplateQueryBytes bounds the source and q parameters of
// GET /api/v1/log-templates.
const maxTemplateQueryBytes = 1024

// routeTemplate is the route of one log template.
const routeTemplate = "GET /api/v1/log-templates/{source}/{id}"

// Label names a log anomaly carries (internal/detect/logs): the source the
// template was mined on and the template's id.
const (
	labelLogSource   = "source"
	labelTemplateID  = "template_id"
	templatesPathFmt = "/api/v1/log-templates/%s/%s"
)

// TemplatePath returns the API path of a log template of source, GET
// /api/v1/log-templates/{source}/{id}: the link that log anomalies
// (templateUrl) and incidents (logTemplates) carry.
func TemplatePath(source, id string) string {
	return fmt.Sprintf(templatesPathFmt, url.PathEscape(source), url.PathEscape(id))
}

// templatesResponse is the reply to GET /api/v1/log-templates.
type templatesResponse struct {
	Templates []osprey.LogTemplate `json:"templates"`
}

// listTemplates serves GET /api/v1/log-templates?source=&q=&limit=: the mined
// log templates of one source ("" for all) whose text contains q literally
// ("" for all), most frequent first. Templates merged into another are
// listed too, with aliasOf naming the template they now belong to.
func (a *API) listTemplates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if rerr := checkParams(q, "source", "q", "limit"); rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	source, text := q.Get("source"), q.Get("q")
	if len(source) > maxTemplateQueryBytes || len(text) > maxTemplateQueryBytes {
		writeError(w, http.StatusBadRequest, "source and q: at most 1024 bytes each")
		return
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	list, err := a.store.ListTemplates(r.Context(), source, text, limit)
	if err != nil {
		a.storeError(w, "list log templates", err)
		return
	}
	if list == nil {
		list = []osprey.LogTemplate{}
	}
	writeJSON(w, http.StatusOK, templatesResponse{Templates: list})
}

// getTemplate serves GET /api/v1/log-templates/{source}/{id}: one template
// as the list shows it. An id merged into another template is found too;
// its aliasOf names the template it now belongs to. The store lists a
// source's templates most frequent first, at most store.MaxLimit of them
// (logs.max_templates_per_source defaults to as many), and the template is
// looked up among those.
func (a *API) getTemplate(w http.ResponseWriter, r *http.Request) {
	source, id := r.PathValue("source"), r.PathValue("id")
	if len(source) > maxTemplateQueryBytes || len(id) > maxTemplateQueryBytes || source == "" || id == "" {
		writeError(w, http.StatusBadRequest, "source and id: 1 to 1024 bytes each")
		return
	}
	list, err := a.store.ListTemplates(r.Context(), source, "", store.MaxLimit)
	if err != nil {
		a.storeError(w, "get log template", err)
		return
	}
	for _, t := range list {
		if t.ID == id {
			writeJSON(w, http.StatusOK, t)
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("log template %q of source %q not found", truncate(id, 64), truncate(source, 64)))
}

// anomalyItem is an anomaly as the API shows it: with, for a log anomaly,
// the link to its template.
type anomalyItem struct {
	osprey.Anomaly
	// TemplateURL is the API path of a log anomaly's template (TemplatePath
	// of its source label and TemplateID); empty for other anomalies.
	TemplateURL string `json:"templateUrl,omitempty"`
}

// templateURL returns the link of a log anomaly's template, or "".
func templateURL(a *osprey.Anomaly) string {
	src := a.Labels[labelLogSource]
	if a.Kind != osprey.AnomalyLog || a.TemplateID == "" || src == "" {
		return ""
	}
	return TemplatePath(src, a.TemplateID)
}

// anomalyItems adds the template links to list.
func anomalyItems(list []osprey.Anomaly) []anomalyItem {
	out := make([]anomalyItem, len(list))
	for i := range list {
		out[i] = anomalyItem{Anomaly: list[i], TemplateURL: templateURL(&list[i])}
	}
	return out
}

// templateLink is a log template an incident's anomalies were found in.
type templateLink struct {
	Source     string `json:"source"`
	TemplateID string `json:"templateId"`
	// URL is the template's API path (TemplatePath).
	URL string `json:"url"`
	// Members are the fingerprints of the incident's members (log
	// anomalies) on this template.
	Members []osprey.Fingerprint `json:"members"`
}

// incidentView is the reply to GET /api/v1/incidents/{id}: the incident
// and the log templates of its members.
type incidentView struct {
	osprey.Incident
	// LogTemplates lists, in member order, the templates of the members
	// that are log anomalies (their source and template_id labels).
	LogTemplates []templateLink `json:"logTemplates,omitempty"`
}

// newIncidentView links inc's log anomaly members to their templates.
func newIncidentView(inc osprey.Incident) incidentView {
	v := incidentView{Incident: inc}
	at := map[[2]string]int{}
	for _, m := range inc.Members {
		src, id := m.Labels[labelLogSource], m.Labels[labelTemplateID]
		if m.Kind != osprey.MemberAnomaly || src == "" || id == "" {
			continue
		}
		k := [2]string{src, id}
		i, ok := at[k]
		if !ok {
			i = len(v.LogTemplates)
			at[k] = i
			v.LogTemplates = append(v.LogTemplates, templateLink{Source: src, TemplateID: id, URL: TemplatePath(src, id)})
		}
		v.LogTemplates[i].Members = append(v.LogTemplates[i].Members, m.Fingerprint)
	}
	return v
}
