package logmine

import (
	"context"
	"strings"
	"sync"

	"github.com/osprey-aiops/osprey"
)

// LabelSource is the label that names a log stream's source when a Set is
// not told otherwise.
const LabelSource = "source"

// Update tells a Set's listener about a template change.
type Update struct {
	Source string
	// Template is a snapshot of the template after the change.
	Template osprey.LogTemplate
	// New is true for a template seen for the first time; otherwise a
	// template was merged into Template (Merged names the old ids, which
	// now resolve to Template.ID).
	New    bool
	Merged []string
	// Record is the line that caused the change.
	Record *osprey.LogRecord
}

// SetOptions configure a Set.
type SetOptions struct {
	// Config is the miner configuration, the same for every source.
	Config Config
	// Source names the stream of a record; templates are mined per source.
	// Default: the "source" label, else "service", else "".
	Source func(*osprey.LogRecord) string
	// Content returns the text of a record to mine, e.g. its body without
	// the line's own header (time stamp, level, logger). Default: the body
	// as it is.
	Content func(*osprey.LogRecord) string
	// OnUpdate, if set, is called (with the source's lock held, so it must
	// be quick and must not call back into the Set) for each new or merged
	// template.
	OnUpdate func(Update)
	// OnMatch, if set, is called for every mined line, after the OnUpdate
	// calls the line caused, with the line's source and match (ID empty
	// when the template cap was hit). It runs with the source's lock held,
	// like OnUpdate: it must be quick and must not call back into the Set.
	// The record belongs to the caller of Mine; OnMatch must not keep it.
	OnMatch func(source string, m Match, r *osprey.LogRecord)
}

// Set mines the templates of many sources, one Miner per source. It is the
// log-mining stage's entry point: it implements osprey.LogConsumer, reports
// new and merged templates through OnUpdate, and exports and restores its
// templates as osprey.LogTemplate so that ids survive a restart.
//
// A Set is safe for concurrent use; records of one source are mined one at a
// time, different sources in parallel.
type Set struct {
	opts    SetOptions
	mu      sync.Mutex
	sources map[string]*sourceMiner
}

type sourceMiner struct {
	mu sync.Mutex
	m  *Miner
}

var _ osprey.LogConsumer = (*Set)(nil)

// NewSet returns an empty Set.
func NewSet(opts SetOptions) *Set {
	if opts.Source == nil {
		opts.Source = defaultSource
	}
	return &Set{opts: opts, sources: map[string]*sourceMiner{}}
}

func defaultSource(r *osprey.LogRecord) string {
	if s := r.Labels[LabelSource]; s != "" {
		return s
	}
	return r.Labels[osprey.LabelService]
}

func (s *Set) source(name string) *sourceMiner {
	s.mu.Lock()
	defer s.mu.Unlock()
	sm := s.sources[name]
	if sm == nil {
		sm = &sourceMiner{m: NewMiner(name, s.opts.Config)}
		sm.m.trackMerges = s.opts.OnUpdate != nil
		s.sources[name] = sm
	}
	return sm
}

// ConsumeLogs mines each record's Body. It never fails: a record that hits
// a source's template cap is counted in that miner's Stats.Overflow.
func (s *Set) ConsumeLogs(ctx context.Context, batch []osprey.LogRecord) error {
	for i := range batch {
		if i&255 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		s.Mine(&batch[i])
	}
	return nil
}

// Mine mines one record and returns its match.
func (s *Set) Mine(r *osprey.LogRecord) Match {
	name := s.opts.Source(r)
	sm := s.source(name)
	sm.mu.Lock()
	defer sm.mu.Unlock()
	before := sm.m.stats.Merges
	content := r.Body
	if s.opts.Content != nil {
		content = s.opts.Content(r)
	}
	match := sm.m.Add(r.Time, content)
	match.Content = content
	if s.opts.OnUpdate != nil && !match.Overflow {
		if match.New {
			s.opts.OnUpdate(Update{Source: name, Template: sm.m.export(match.Index), New: true, Record: r})
		}
		if sm.m.stats.Merges != before {
			for _, mg := range sm.m.takeMerged() {
				s.opts.OnUpdate(Update{Source: name, Template: sm.m.export(mg.into), Merged: mg.ids, Record: r})
			}
		}
	}
	if s.opts.OnMatch != nil {
		s.opts.OnMatch(name, match, r)
	}
	return match
}

// Lookup returns the live template that id (possibly an alias) of source
// resolves to.
func (s *Set) Lookup(source, id string) (osprey.LogTemplate, bool) {
	s.mu.Lock()
	sm := s.sources[source]
	s.mu.Unlock()
	if sm == nil {
		return osprey.LogTemplate{}, false
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.m.LookupID(id)
}

// Templates returns the live templates and aliases of a source, for the
// store.
func (s *Set) Templates(source string) []osprey.LogTemplate {
	s.mu.Lock()
	sm := s.sources[source]
	s.mu.Unlock()
	if sm == nil {
		return nil
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.m.Templates()
}

// Sources returns the names of the sources seen so far.
func (s *Set) Sources() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.sources))
	for name := range s.sources {
		out = append(out, name)
	}
	return out
}

// Restore loads templates saved from Templates, before any record of their
// source is mined, so that lines keep their template ids across restarts.
func (s *Set) Restore(ts []osprey.LogTemplate) {
	by := map[string][]osprey.LogTemplate{}
	for _, t := range ts {
		by[t.Source] = append(by[t.Source], t)
	}
	for name, list := range by {
		sm := s.source(name)
		sm.mu.Lock()
		sm.m.Restore(list)
		sm.mu.Unlock()
	}
}

// Stats returns the counters of one source's miner.
func (s *Set) Stats(source string) Stats {
	s.mu.Lock()
	sm := s.sources[source]
	s.mu.Unlock()
	if sm == nil {
		return Stats{}
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.m.Stats()
}

// merged records one merge for Set's listener.
type merged struct {
	into int
	ids  []string
}

func (m *Miner) takeMerged() []merged {
	out := m.merged
	m.merged = nil
	return out
}

// export returns template idx as an osprey.LogTemplate.
func (m *Miner) export(idx int) osprey.LogTemplate {
	t := m.tmpls[idx]
	lt := osprey.LogTemplate{
		ID:        t.id,
		Source:    m.source,
		Template:  strings.Join(t.tokens, " "),
		Count:     t.count,
		FirstSeen: t.first,
		LastSeen:  t.last,
		Sample:    t.sample,
	}
	if t.alias >= 0 {
		lt.AliasOf = m.tmpls[m.resolve(idx)].id
	}
	return lt
}

// Templates returns every template of the miner, live ones and aliases (with
// AliasOf set to the live template), in creation order.
func (m *Miner) Templates() []osprey.LogTemplate {
	out := make([]osprey.LogTemplate, len(m.tmpls))
	for i := range m.tmpls {
		out[i] = m.export(i)
	}
	return out
}

// Restore loads saved templates into a miner that has mined nothing of its
// own yet (it does nothing otherwise). Templates keep their ids; aliases keep
// resolving to the templates they were merged into. Restored templates match
// new lines as mined ones do.
func (m *Miner) Restore(ts []osprey.LogTemplate) {
	if len(m.tmpls) > 0 {
		return
	}
	pos := map[string]int{}
	for _, t := range ts {
		if _, dup := pos[t.ID]; dup || t.ID == "" {
			continue
		}
		pos[t.ID] = len(m.tmpls)
		m.ids[t.ID] = len(m.tmpls)
		m.tmpls = append(m.tmpls, &template{
			id:     t.ID,
			tokens: appendFields(nil, t.Template),
			count:  t.Count,
			first:  t.FirstSeen,
			last:   t.LastSeen,
			sample: t.Sample,
			alias:  -1,
		})
	}
	for _, t := range ts {
		i, ok := pos[t.ID]
		if !ok || t.AliasOf == "" {
			continue
		}
		if j, ok := pos[t.AliasOf]; ok && j != i {
			m.tmpls[i].alias = j
		}
	}
	// Bad input may hold alias cycles: break them, keeping the template
	// where a walk meets itself live.
	for i := range m.tmpls {
		j := i
		for steps := 0; m.tmpls[j].alias >= 0; steps++ {
			if steps > len(m.tmpls) {
				m.tmpls[j].alias = -1
				break
			}
			j = m.tmpls[j].alias
		}
	}
	for i, t := range m.tmpls {
		if t.alias < 0 {
			m.byLen[len(t.tokens)] = append(m.byLen[len(t.tokens)], i)
		}
	}
	m.stats.Templates = len(m.tmpls)
}

// ID returns the id of the live template idx (a Match.Index) belongs to.
func (m *Miner) ID(idx int) string {
	idx = m.Resolve(idx)
	if idx < 0 {
		return ""
	}
	return m.tmpls[idx].id
}

// LookupID returns the live template an id (possibly an alias) resolves to,
// as an osprey.LogTemplate.
func (m *Miner) LookupID(id string) (osprey.LogTemplate, bool) {
	i, ok := m.ids[id]
	if !ok {
		return osprey.LogTemplate{}, false
	}
	return m.export(m.resolve(i)), true
}
