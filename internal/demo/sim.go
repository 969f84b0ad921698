package demo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/osprey-aiops/osprey"
)

// Point is one metric sample of a frame.
type Point struct {
	// Labels include __name__.
	Labels osprey.Labels
	Value  float64
}

// LogLine is one log line of a frame.
type LogLine struct {
	Service string
	At      time.Time
	Line    string
}

// Span is one span of a frame, shaped as OpenTelemetry records it.
type Span struct {
	TraceID  [16]byte
	SpanID   [8]byte
	ParentID [8]byte // zero for a root span
	Service  string
	Name     string
	Start    time.Time
	Duration time.Duration
	Error    bool
}

// Alert is a Prometheus alert as its rule evaluation sends it.
type Alert struct {
	Labels      osprey.Labels // alertname included
	Annotations map[string]string
	StartsAt    time.Time
	// EndsAt is the alert's "valid until" while it fires, and when it
	// resolved once it has.
	EndsAt time.Time
}

// Frame is everything the environment emits for one sample time.
type Frame struct {
	At     time.Time
	Points []Point
	Logs   []LogLine
	Spans  []Span
	Alerts []Alert
	// Events are what happened in the environment during the step, for
	// people ("inventory crashed (exit code 2)").
	Events []string
}

// ar is a first-order autoregressive noise: smooth, like a rate over a
// sliding window.
type ar struct {
	x       float64
	started bool
}

// next advances the noise and returns it; sd is its stationary standard
// deviation, phi its memory.
func (a *ar) next(rng *rand.Rand, phi, sd float64) float64 {
	if !a.started {
		// Start in the stationary distribution, not at zero.
		a.x, a.started = sd*rng.NormFloat64(), true
		return a.x
	}
	a.x = phi*a.x + math.Sqrt(1-phi*phi)*sd*rng.NormFloat64()
	return a.x
}

// crash-loop timing, in samples: a crash-looping service runs crashUp
// samples (failing some requests), then is down crashDown samples.
const (
	crashUp   = 7
	crashDown = 5
	// alertAfter is how many crashes fire the crash-loop alert, resendEvery
	// how often a firing alert is sent again, resolveAfter how many
	// healthy samples after the last crash resolve it.
	alertAfter   = 2
	resendEvery  = 5
	resolveAfter = 5
	// restartDown is how long a restart takes, in samples.
	restartDown = 2
)

// svc is the state of one service.
type svc struct {
	spec serviceSpec
	idx  int

	nRate, nLat50, nLat99, nErr, nCPU, nMem ar
	avail                                   []float64
	// baseAvail is the free space log rotation restores.
	baseAvail []float64

	restarts float64
	// memFrac is the share of memBase in use (it grows back after a
	// restart).
	memFrac float64

	// faults in effect.
	latFault, errFault, cpuFault int // remaining samples, 0 = none
	diskFault                    int
	diskMount                    int
	diskRate                     float64
	crashLoop                    bool
	// crashPhase counts samples within the crash cycle; crashes counts
	// crashes since the crash loop began.
	crashPhase, crashes int
	// down counts the remaining samples of a restart.
	down int
	// alert state of the crash-loop alert.
	alertFiring    bool
	alertStarted   time.Time
	healthySince   int
	alertSentSteps int

	// computed for the current sample.
	up                              bool
	rate, lat50, lat99, errR, cpu   float64
	unreachable                     bool
	justStarted                     bool
	flaky                           float64 // extra failure share while crash-looping
	latFactor, errAdd, cpuSaturated float64
}

// Sim is the simulated environment. It is deterministic for a seed: the
// same seed, faults and steps give the same frames. Step, Inject, Restart
// and CleanupLogs are safe for concurrent use.
type Sim struct {
	step time.Duration

	mu     sync.Mutex
	rng    *rand.Rand
	svcs   []*svc
	byName map[string]*svc
	n      int // samples stepped
	// dip is 1, or less during the traffic dip at the start of the
	// history (see dipFrom).
	dip     float64
	orderID int
	events  []string
}

// NewSim returns the environment with its services healthy. step is the
// sample interval (the time between two frames).
func NewSim(seed int64, step time.Duration) *Sim {
	s := &Sim{
		step:   step,
		rng:    rand.New(rand.NewPCG(uint64(seed), 0x05b2e7)),
		byName: make(map[string]*svc),
	}
	for i, spec := range shop() {
		v := &svc{spec: spec, idx: i, memFrac: 1}
		for _, m := range spec.mounts {
			free := m.size * (1 - m.used)
			v.avail = append(v.avail, free)
			v.baseAvail = append(v.baseAvail, free)
		}
		s.svcs = append(s.svcs, v)
		s.byName[spec.name] = v
	}
	s.orderID = 100000 + s.rng.IntN(800000)
	return s
}

// ErrUnknownService is returned for a service the shop does not have.
var ErrUnknownService = errors.New("unknown service")

// errUnknownMount is returned for a file system a service does not have.
var errUnknownMount = errors.New("no such file system")

// Inject starts f. It fails for an unknown service or mount.
func (s *Sim) Inject(f Fault) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.byName[f.Service]
	if v == nil {
		return fmt.Errorf("%w %q", ErrUnknownService, f.Service)
	}
	n := f.steps()
	switch f.Kind {
	case FaultLatency:
		v.latFault = n
	case FaultErrors:
		v.errFault = n
	case FaultCPU:
		v.cpuFault = n
	case FaultCrashLoop:
		if !v.crashLoop {
			v.crashLoop, v.crashPhase, v.crashes = true, 0, 0
		}
	case FaultDisk:
		i := slices.IndexFunc(v.spec.mounts, func(m mount) bool { return m.path == f.Mount })
		if i < 0 {
			return fmt.Errorf("service %s: %w %q", f.Service, errUnknownMount, f.Mount)
		}
		v.diskFault, v.diskMount = n, i
		v.diskRate = v.baseAvail[i] / diskFullSteps
	default:
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	return nil
}

// Active reports whether a fault of kind is in effect on service.
func (s *Sim) Active(kind FaultKind, service string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.byName[service]
	if v == nil {
		return false
	}
	switch kind {
	case FaultLatency:
		return v.latFault > 0
	case FaultErrors:
		return v.errFault > 0
	case FaultCPU:
		return v.cpuFault > 0
	case FaultCrashLoop:
		return v.crashLoop
	case FaultDisk:
		return v.diskFault > 0
	}
	return false
}

// Restart restarts service: it is down for a moment and starts clean,
// which ends a crash loop. It reports whether a crash loop ended.
func (s *Sim) Restart(service string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.byName[service]
	if v == nil {
		return false, fmt.Errorf("%w %q", ErrUnknownService, service)
	}
	was := v.crashLoop
	v.crashLoop = false
	v.down = restartDown
	s.events = append(s.events, fmt.Sprintf("%s restarted on request", service))
	return was, nil
}

// CleanupLogs deletes old rotated logs on service's mountpoint, freeing
// space. It returns the bytes freed.
func (s *Sim) CleanupLogs(service, mountpoint string) (float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.byName[service]
	if v == nil {
		return 0, fmt.Errorf("%w %q", ErrUnknownService, service)
	}
	i := slices.IndexFunc(v.spec.mounts, func(m mount) bool { return m.path == mountpoint })
	if i < 0 {
		return 0, fmt.Errorf("service %s: %w %q", service, errUnknownMount, mountpoint)
	}
	freed := max(0, v.baseAvail[i]-v.avail[i])
	v.avail[i] = v.baseAvail[i]
	if v.diskFault > 0 && v.diskMount == i {
		v.diskFault = 0
	}
	s.events = append(s.events, fmt.Sprintf("cleaned up %s %s: %.1f GiB freed", service, mountpoint, freed/gib))
	return freed, nil
}

// Step advances the environment by one sample and returns what it emits at
// time at.
func (s *Sim) Step(at time.Time) Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := Frame{At: at, Events: s.events}
	s.events = nil
	s.n++
	s.dip = 1
	if s.n >= dipFrom && s.n < dipFrom+dipFor {
		s.dip = dipDepth
	}
	for _, v := range s.svcs {
		s.advance(v, &f)
	}
	s.computeRates()
	s.computeLatencies()
	for _, v := range s.svcs {
		s.points(v, &f)
		s.logs(v, &f)
		s.alert(v, &f)
	}
	s.traces(&f)
	return f
}

// advance moves one service's fault and lifecycle state on by a sample.
func (s *Sim) advance(v *svc, f *Frame) {
	v.latFactor, v.errAdd, v.cpuSaturated, v.flaky = 1, 0, 0, 0
	if v.latFault > 0 {
		v.latFault--
		v.latFactor = 15
	}
	if v.errFault > 0 {
		v.errFault--
		v.errAdd = 0.25
	}
	if v.cpuFault > 0 {
		v.cpuFault--
		v.cpuSaturated = 1
		v.latFactor *= 6
	}
	if v.diskFault > 0 {
		v.diskFault--
		v.avail[v.diskMount] = max(0, v.avail[v.diskMount]-v.diskRate)
		if v.diskFault == 0 {
			freed := v.baseAvail[v.diskMount] - v.avail[v.diskMount]
			v.avail[v.diskMount] = v.baseAvail[v.diskMount]
			f.Events = append(f.Events, fmt.Sprintf("log rotation on %s freed %.1f GiB of %s",
				v.spec.name, freed/gib, v.spec.mounts[v.diskMount].path))
		}
	}
	wasUp := v.up || s.n == 1
	switch {
	case v.down > 0:
		v.down--
		v.up = false
		if v.down == 0 {
			v.memFrac = 0.45
		}
	case v.crashLoop:
		v.crashPhase++
		if v.crashPhase > crashUp+crashDown {
			v.crashPhase = 1
		}
		v.up = v.crashPhase <= crashUp
		if v.up {
			v.flaky = 0.3
		}
		if !v.up && v.crashPhase == crashUp+1 {
			v.crashes++
			f.Events = append(f.Events, fmt.Sprintf("%s crashed (exit code 2), restart %d", v.spec.name, v.crashes))
		}
		if v.up && v.crashPhase == 1 {
			v.memFrac = 0.45
		}
	default:
		v.up = true
	}
	v.justStarted = v.up && !wasUp && s.n > 1
	if v.justStarted {
		v.restarts++
	}
	v.unreachable = !v.up
	// Memory grows back to its working set after a start.
	v.memFrac += (1 - v.memFrac) * 0.08
}

// computeRates sets every service's request rate: external load at the
// entry points, then each caller's calls, callers first.
func (s *Sim) computeRates() {
	for _, v := range s.svcs {
		v.rate = 0
	}
	for _, v := range s.svcs {
		v.rate += v.spec.rate * s.dip
		noisy := v.rate * (1 + v.nRate.next(s.rng, noisePhi, 0.02))
		if v.unreachable {
			noisy = 0
		}
		v.rate = max(0, noisy)
		for _, c := range v.spec.calls {
			s.byName[c.to].rate += v.rate * c.perReq
		}
	}
}

// computeLatencies sets latency, error ratio and CPU, callees first.
func (s *Sim) computeLatencies() {
	for i := len(s.svcs) - 1; i >= 0; i-- {
		v := s.svcs[i]
		sp := &v.spec
		l50 := sp.lat50 * v.latFactor * s.dip * (1 + v.nLat50.next(s.rng, noisePhi, 0.02))
		l99 := sp.lat99 * v.latFactor * s.dip * (1 + v.nLat99.next(s.rng, noisePhi, 0.025))
		ok := (1 - math.Min(1, sp.errBase*(1+v.nErr.next(s.rng, noisePhi, 0.25))+v.errAdd)) * (1 - v.flaky)
		for _, c := range sp.calls {
			cv := s.byName[c.to]
			frac := math.Min(1, c.perReq)
			if cv.unreachable {
				// Connection refused, after the usual connect and
				// retry time: it fails, in about the usual time.
				ok *= 1 - frac*c.errProp
				l50 += c.perReq * cv.spec.lat50
				l99 += math.Min(1, c.perReq*10) * cv.spec.lat99
				continue
			}
			l50 += c.perReq * cv.lat50
			l99 += math.Min(1, c.perReq*10) * cv.lat99
			ok *= 1 - frac*c.errProp*cv.errR
		}
		v.lat50, v.lat99 = max(l50, 0.0005), max(l99, l50)
		v.errR = math.Min(1, math.Max(0, 1-ok))
		cpu := (sp.cpuBase + sp.cpuPerReq*v.rate) * (1 + v.nCPU.next(s.rng, noisePhi, 0.025))
		if v.cpuSaturated > 0 {
			cpu = sp.cpuLimit * (0.96 + 0.01*s.rng.NormFloat64())
		}
		v.cpu = math.Max(0, cpu)
	}
}

// labels returns the labels of a series of v.
func (v *svc) labels(name string, extra ...string) osprey.Labels {
	l := osprey.Labels{
		osprey.LabelMetric:    name,
		"job":                 v.spec.name,
		osprey.LabelInstance:  v.spec.instance,
		osprey.LabelNamespace: "shop",
		osprey.LabelService:   v.spec.name,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

// Metric names the environment emits. Request metrics are what recording
// rules over the services' histograms and counters give (rates and ratios
// per service), which is what a Prometheus forwards for alerting.
const (
	MetricRequestRate  = "service:http_requests:rate1m"
	MetricErrorRatio   = "service:http_request_errors:ratio_rate1m"
	MetricLatency      = "http_request_duration_seconds"
	MetricCPU          = "service:process_cpu_seconds:rate1m"
	MetricMemory       = "process_resident_memory_bytes"
	MetricUp           = "up"
	MetricRestarts     = "kube_pod_container_status_restarts_total"
	MetricFSAvail      = "node_filesystem_avail_bytes"
	MetricFSSize       = "node_filesystem_size_bytes"
	AlertCrashLooping  = "KubePodCrashLooping"
	quantileLabel      = "quantile"
	mountpointLabel    = "mountpoint"
	podLabel           = "pod"
	containerLabel     = "container"
	crashAlertSeverity = "critical"
)

// points emits v's series. A service that is down is scraped as up 0 and
// its process metrics are missing, as with a real failed scrape.
func (s *Sim) points(v *svc, f *Frame) {
	add := func(l osprey.Labels, val float64) { f.Points = append(f.Points, Point{Labels: l, Value: val}) }
	if v.up {
		add(v.labels(MetricUp), 1)
	} else {
		add(v.labels(MetricUp), 0)
	}
	add(v.labels(MetricRestarts, podLabel, v.spec.pod, containerLabel, v.spec.name), v.restarts)
	if v.spec.http {
		add(v.labels(MetricRequestRate), round(v.rate, 3))
		if v.up {
			add(v.labels(MetricErrorRatio), round(v.errR, 6))
			add(v.labels(MetricLatency, quantileLabel, "0.5"), round(v.lat50, 6))
			add(v.labels(MetricLatency, quantileLabel, "0.99"), round(v.lat99, 6))
		}
	}
	if v.up {
		add(v.labels(MetricCPU), round(v.cpu, 5))
		mem := v.spec.memBase * v.memFrac * (1 - (1-s.dip)*0.4) * (1 + v.nMem.next(s.rng, noisePhi, 0.015))
		add(v.labels(MetricMemory), math.Round(mem/4096)*4096)
	}
	// File systems come from the node exporter of the service's host,
	// which keeps being scraped while the service crashes.
	for i, m := range v.spec.mounts {
		// Logs and data are written steadily: whole 4 KiB blocks, about
		// 2 MiB a second per TiB.
		v.avail[i] = math.Max(0, v.avail[i]-4096*math.Round(m.size*2e-6/4096))
		avail := v.avail[i]
		fl := []string{"device", m.device, "fstype", "ext4", mountpointLabel, m.path}
		add(v.labels(MetricFSAvail, fl...), math.Round(avail/4096)*4096)
		add(v.labels(MetricFSSize, fl...), m.size)
	}
}

// alert sends the crash-loop alert while v crash-loops, as a Prometheus
// rule (increase of the restarts counter) would, and resolves it once v
// has been healthy for a while.
func (s *Sim) alert(v *svc, f *Frame) {
	labels := func() osprey.Labels {
		return osprey.Labels{
			"alertname":           AlertCrashLooping,
			osprey.LabelService:   v.spec.name,
			osprey.LabelNamespace: "shop",
			podLabel:              v.spec.pod,
			containerLabel:        v.spec.name,
			"severity":            crashAlertSeverity,
		}
	}
	ann := map[string]string{
		"summary":     fmt.Sprintf("Pod shop/%s (%s) is crash looping", v.spec.pod, v.spec.name),
		"description": fmt.Sprintf("Container %s of pod shop/%s restarted %d times in the last minutes.", v.spec.name, v.spec.pod, v.crashes),
	}
	if v.crashLoop && v.crashes >= alertAfter {
		v.healthySince = 0
		if !v.alertFiring {
			v.alertFiring, v.alertStarted, v.alertSentSteps = true, f.At, 0
		}
		if v.alertSentSteps%resendEvery == 0 {
			f.Alerts = append(f.Alerts, Alert{Labels: labels(), Annotations: ann, StartsAt: v.alertStarted,
				EndsAt: f.At.Add(4 * resendEvery * s.step)})
		}
		v.alertSentSteps++
		return
	}
	if !v.alertFiring {
		return
	}
	if v.up {
		v.healthySince++
	}
	if v.healthySince >= resolveAfter {
		v.alertFiring = false
		f.Alerts = append(f.Alerts, Alert{Labels: labels(), Annotations: ann, StartsAt: v.alertStarted, EndsAt: f.At})
	}
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// noisePhi is the memory of every noise: values are smooth from one sample
// to the next, as rates over a minute's window are.
const noisePhi = 0.98

// The history starts with a traffic dip: for dipFor samples from sample
// dipFrom, a CDN hiccup sends dipDepth of the usual traffic, and latency and
// CPU drop with it. The dip falls in the detectors' warm-up (the first 100
// samples are not scored) and sets their records of "the most surprising
// moment so far", as any real history's disturbances do; without it the
// smooth noise of the simulation would set new records, that is raise
// false alarms, about once every 3,000 samples per series (measured with
// TestSimQuietAndDetected: 10 an hour over the ~45 noisy series).
const (
	dipFrom  = 60
	dipFor   = 10
	dipDepth = 0.6
)
