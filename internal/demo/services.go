package demo

// The simulated shop. Requests enter at frontend; each service's own work
// takes its own latency and fails at its own rate, and every call it makes
// adds the callee's latency and (part of) its errors. Numbers are typical
// of a small web shop on one Kubernetes namespace.

// call is a call from one service to another.
type call struct {
	to string
	// perReq is how many calls to the callee one request makes.
	perReq float64
	// errProp is the share of the callee's failures that fail the caller's
	// request too (the rest are retried or degraded gracefully: the
	// frontend shows "checkout is unavailable, try again" when checkout
	// fails).
	errProp float64
}

// mount is one file system of a service's host.
type mount struct {
	path, device string
	// size in bytes, and the share used at start.
	size, used float64
}

// serviceSpec is the static description of one service.
type serviceSpec struct {
	name string
	// instance is the scrape target, as Prometheus labels it.
	instance string
	pod      string
	// http services export request metrics; postgres does not.
	http bool
	// rate is the external request rate (requests/s) of an entry point.
	rate  float64
	calls []call
	// lat50, lat99 are the own work's latency quantiles, in seconds.
	lat50, lat99 float64
	errBase      float64
	// cpuBase cores idle, cpuPerReq core-seconds per request, cpuLimit
	// cores.
	cpuBase, cpuPerReq, cpuLimit float64
	memBase                      float64
	mounts                       []mount
}

const (
	gib = 1 << 30
	mib = 1 << 20
)

// shop returns the services, entry point first. Order matters: rates are
// computed in this order (callers before callees), latencies in reverse.
func shop() []serviceSpec {
	appMounts := func(dev string) []mount {
		return []mount{
			{path: "/", device: "/dev/" + dev + "1", size: 40 * gib, used: 0.42},
			{path: "/var/log", device: "/dev/" + dev + "2", size: 10 * gib, used: 0.31},
		}
	}
	return []serviceSpec{
		{name: "frontend", instance: "10.42.0.11:8080", pod: "frontend-6d8f7b9c4-x2k9p", http: true, rate: 80,
			calls: []call{{to: "catalog", perReq: 1, errProp: 1}, {to: "checkout", perReq: 0.1, errProp: 0}},
			lat50: 0.012, lat99: 0.045, errBase: 0,
			cpuBase: 0.08, cpuPerReq: 0.004, cpuLimit: 2, memBase: 180 * mib, mounts: appMounts("sda")},
		{name: "catalog", instance: "10.42.0.12:8080", pod: "catalog-7f5c6d8b9-q4m2z", http: true,
			lat50: 0.008, lat99: 0.03, errBase: 0,
			cpuBase: 0.05, cpuPerReq: 0.003, cpuLimit: 1, memBase: 260 * mib, mounts: appMounts("sdb")},
		{name: "checkout", instance: "10.42.0.13:8080", pod: "checkout-5b9d8c7f6-h7t3w", http: true,
			calls: []call{{to: "payment", perReq: 1, errProp: 1}, {to: "inventory", perReq: 1, errProp: 1}},
			lat50: 0.02, lat99: 0.08, errBase: 0,
			cpuBase: 0.03, cpuPerReq: 0.01, cpuLimit: 1, memBase: 140 * mib, mounts: appMounts("sdc")},
		{name: "payment", instance: "10.42.0.14:8080", pod: "payment-84c6f9d7b-r8n5v", http: true,
			lat50: 0.09, lat99: 0.35, errBase: 0,
			cpuBase: 0.02, cpuPerReq: 0.006, cpuLimit: 1, memBase: 120 * mib, mounts: appMounts("sdd")},
		{name: "inventory", instance: "10.42.0.15:8080", pod: "inventory-9a7e5c3d1-k6p8s", http: true,
			calls: []call{{to: "postgres", perReq: 2, errProp: 1}},
			lat50: 0.006, lat99: 0.025, errBase: 0,
			cpuBase: 0.02, cpuPerReq: 0.005, cpuLimit: 1, memBase: 110 * mib, mounts: appMounts("sde")},
		// postgres also serves other applications (reporting, the admin
		// back office): its CPU does not follow inventory's queries.
		{name: "postgres", instance: "10.42.0.20:9187", pod: "postgres-0",
			lat50: 0.002, lat99: 0.015,
			cpuBase: 0.9, cpuPerReq: 0, cpuLimit: 4, memBase: 2 * gib,
			mounts: []mount{
				{path: "/", device: "/dev/sdf1", size: 40 * gib, used: 0.35},
				{path: "/var/lib/postgresql", device: "/dev/sdf2", size: 200 * gib, used: 0.48},
			}},
	}
}

// Services returns the names of the simulated services, entry point first.
func Services() []string {
	specs := shop()
	out := make([]string, len(specs))
	for i := range specs {
		out[i] = specs[i].name
	}
	return out
}

// Edges returns the call graph of the simulated shop as caller → callee
// pairs, the edges Osprey learns from the traces.
func Edges() [][2]string {
	var out [][2]string
	for _, s := range shop() {
		for _, c := range s.calls {
			out = append(out, [2]string{s.name, c.to})
		}
	}
	return out
}
