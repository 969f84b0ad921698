package ui

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/topology"
)

// Topology drawing, in SVG user units.
const (
	topoNodeW   = 150
	topoNodeH   = 34
	topoColGap  = 150
	topoRowGap  = 26
	topoMargin  = 20
	topoMaxName = 20
)

// topoData is the topology page's data.
type topoData struct {
	Available bool
	SVG       template.HTML
	Nodes     int
	Edges     []topology.Edge
	Hot       []string
	Window    string
}

func (u *UI) topology(w http.ResponseWriter, r *http.Request, v *view) {
	d := topoData{}
	v.Title, v.Nav = "Topology", "topology"
	if u.opts.Topology == nil {
		v.Data = d
		u.render(w, http.StatusOK, "topology.html", v)
		return
	}
	d.Available = true
	snap := u.opts.Topology.Snapshot()
	incs, err := u.opts.Store.ListIncidents(r.Context(), store.IncidentQuery{
		Statuses: []osprey.IncidentStatus{osprey.IncidentOpen, osprey.IncidentAcknowledged}, Limit: 500})
	if u.storeFailed(w, r, v, "incidents", err) {
		return
	}
	hot := map[string]string{}   // service → an open incident's title
	cause := map[string]string{} // service → the incident it is the top cause of
	for i := range incs {
		for _, s := range servicesOf(&incs[i]) {
			if _, ok := hot[s]; !ok {
				hot[s] = incs[i].Title
			}
		}
		if len(incs[i].Causes) > 0 && incs[i].Causes[0].Kind == osprey.CauseService {
			cause[incs[i].Causes[0].Name] = incs[i].Title
		}
	}
	d.Nodes, d.Edges = len(snap.Nodes), snap.Edges
	d.Window = time.Duration(snap.Window).String()
	for s := range hot {
		d.Hot = append(d.Hot, s)
	}
	slices.Sort(d.Hot)
	d.SVG = drawTopology(snap, hot, cause)
	v.Data = d
	u.render(w, http.StatusOK, "topology.html", v)
}

// topoNode is a placed service.
type topoNode struct {
	name       string
	layer, row int
	x, y       float64
}

// drawTopology lays the graph out in layers, callers left of callees (the
// longest path from a service nobody calls, with cycles broken where a
// depth-first search meets them), orders each layer by the mean position of
// its callers, and draws it.
func drawTopology(snap topology.Snapshot, hot, cause map[string]string) template.HTML {
	names := make([]string, 0, len(snap.Nodes))
	for _, n := range snap.Nodes {
		names = append(names, n.Service)
	}
	for s := range hot {
		if !slices.Contains(names, s) {
			names = append(names, s) // a service with an incident but no traces
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return ""
	}
	out := map[string][]string{}
	in := map[string][]string{}
	for _, e := range snap.Edges {
		if e.Caller == e.Callee {
			continue
		}
		out[e.Caller] = append(out[e.Caller], e.Callee)
		in[e.Callee] = append(in[e.Callee], e.Caller)
	}
	// Break cycles: a DFS in name order drops the edges back to a node on
	// the stack.
	back := map[[2]string]bool{}
	state := map[string]int{} // 0 new, 1 on stack, 2 done
	var order []string        // reverse post-order = topological order
	var visit func(string)
	visit = func(n string) {
		state[n] = 1
		for _, m := range out[n] {
			switch state[m] {
			case 0:
				visit(m)
			case 1:
				back[[2]string{n, m}] = true
			}
		}
		state[n] = 2
		order = append(order, n)
	}
	for _, n := range names {
		if state[n] == 0 && len(in[n]) == 0 {
			visit(n)
		}
	}
	for _, n := range names {
		if state[n] == 0 {
			visit(n)
		}
	}
	slices.Reverse(order)
	nodes := map[string]*topoNode{}
	for _, n := range order {
		tn := &topoNode{name: n}
		for _, p := range in[n] {
			if pn, ok := nodes[p]; ok && !back[[2]string{p, n}] {
				tn.layer = max(tn.layer, pn.layer+1)
			}
		}
		nodes[n] = tn
	}
	layers := [][]*topoNode{}
	for _, n := range names {
		tn := nodes[n]
		for len(layers) <= tn.layer {
			layers = append(layers, nil)
		}
		layers[tn.layer] = append(layers[tn.layer], tn)
	}
	for i := range layers {
		for j, tn := range layers[i] {
			tn.row = j
		}
		if i == 0 {
			continue
		}
		// Barycentre of the callers' rows.
		bary := func(tn *topoNode) float64 {
			sum, k := 0.0, 0
			for _, p := range in[tn.name] {
				if pn := nodes[p]; pn.layer < tn.layer {
					sum += float64(pn.row)
					k++
				}
			}
			if k == 0 {
				return float64(tn.row)
			}
			return sum / float64(k)
		}
		slices.SortStableFunc(layers[i], func(a, b *topoNode) int {
			ba, bb := bary(a), bary(b)
			switch {
			case ba < bb:
				return -1
			case ba > bb:
				return 1
			}
			return strings.Compare(a.name, b.name)
		})
		for j, tn := range layers[i] {
			tn.row = j
		}
	}
	rows := 0
	for _, l := range layers {
		rows = max(rows, len(l))
	}
	width := topoMargin*2 + len(layers)*topoNodeW + (len(layers)-1)*topoColGap
	height := topoMargin*2 + rows*topoNodeH + (rows-1)*topoRowGap + 20
	for _, l := range layers {
		// Centre short layers vertically.
		off := float64(rows-len(l)) * (topoNodeH + topoRowGap) / 2
		for _, tn := range l {
			tn.x = float64(topoMargin + tn.layer*(topoNodeW+topoColGap))
			tn.y = float64(topoMargin) + off + float64(tn.row*(topoNodeH+topoRowGap))
		}
	}

	var b strings.Builder
	// Drawn a third larger than its coordinates on a wide screen; the
	// stylesheet scales it down to a narrow one.
	fmt.Fprintf(&b, `<svg class="topology" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="service call graph" xmlns="http://www.w3.org/2000/svg">`,
		width*4/3, height*4/3, width, height)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path class="arrowhead" d="M0 0L10 5L0 10z"/></marker></defs>`)
	for _, e := range snap.Edges {
		from, to := nodes[e.Caller], nodes[e.Callee]
		if from == nil || to == nil || from == to {
			continue
		}
		x1, y1 := from.x+topoNodeW, from.y+topoNodeH/2
		x2, y2 := to.x, to.y+topoNodeH/2
		var path string
		if to.layer > from.layer {
			mx := (x1 + x2) / 2
			path = fmt.Sprintf("M%.1f %.1fC%.1f %.1f %.1f %.1f %.1f %.1f", x1, y1, mx, y1, mx, y2, x2, y2)
		} else {
			// A back edge: around below the nodes, from the caller's
			// bottom to the callee's bottom.
			x1, y1 = from.x+topoNodeW/2, from.y+topoNodeH
			x2, y2 = to.x+topoNodeW/2, to.y+topoNodeH
			dip := max(y1, y2) + 30
			path = fmt.Sprintf("M%.1f %.1fC%.1f %.1f %.1f %.1f %.1f %.1f", x1, y1, x1, dip, x2, dip, x2, y2)
		}
		class := "edge"
		errRate := 0.0
		if e.Requests > 0 {
			errRate = float64(e.Errors) / float64(e.Requests)
		}
		if errRate >= 0.05 {
			class += " edge-errors"
		}
		p99 := time.Duration(e.Latency.P99)
		title := fmt.Sprintf("%s → %s: %d requests, %d errors (%.1f%%), latency p50 %s, p90 %s, p99 %s",
			e.Caller, e.Callee, e.Requests, e.Errors, errRate*100,
			fmtLatency(time.Duration(e.Latency.P50)), fmtLatency(time.Duration(e.Latency.P90)), fmtLatency(p99))
		fmt.Fprintf(&b, `<g class="%s"><title>%s</title><path d="%s" marker-end="url(#arrow)"/>`, class, esc(title), path)
		label := "p99 " + fmtLatency(p99)
		if e.Errors > 0 {
			label += " · " + strconv.FormatFloat(errRate*100, 'f', 1, 64) + "% err"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text></g>`, (x1+x2)/2, (y1+y2)/2-5, esc(label))
	}
	for _, n := range names {
		tn := nodes[n]
		class := "node"
		title := n
		if inc, ok := hot[n]; ok {
			class += " node-hot"
			title += ": open incident " + inc
		}
		if inc, ok := cause[n]; ok {
			class += " node-cause"
			title += " (probable root cause of " + inc + ")"
		}
		fmt.Fprintf(&b, `<g class="%s" data-service="%s"><title>%s</title><rect x="%.1f" y="%.1f" width="%d" height="%d" rx="6"/>`,
			class, esc(n), esc(title), tn.x, tn.y, topoNodeW, topoNodeH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" dominant-baseline="middle">%s</text></g>`,
			tn.x+topoNodeW/2, tn.y+topoNodeH/2, esc(clip(n, topoMaxName)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every text is escaped by esc
}

func fmtLatency(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64) + " µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
