package api

import (
	"net/http"

	"github.com/osprey-aiops/osprey"
)

// maxTemplateQueryBytes bounds the source and q parameters of
// GET /api/v1/log-templates.
const maxTemplateQueryBytes = 1024

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
