package agent

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"github.com/prometheus/procfs"
	"github.com/prometheus/procfs/blockdevice"
	"github.com/prometheus/prometheus/prompb"
)

// Filesystems and mount points left out, as node_exporter's defaults
// leave them out: pseudo and virtual file systems.
var (
	ignoredFSTypes = regexp.MustCompile(`^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$`)
	ignoredMounts  = regexp.MustCompile(`^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)`)
)

// sectorBytes is the unit of /proc/diskstats' sector counts.
const sectorBytes = 512

// hostCollector reads the host's metrics from /proc (and statfs), named as
// node_exporter names them.
type hostCollector struct {
	proc procfs.FS
	blk  blockdevice.FS
	// base labels of every series (instance, job), sorted by name.
	base []prompb.Label
}

// newHostCollector reads /proc under procRoot and /sys under sysRoot.
func newHostCollector(procRoot, sysRoot string, base map[string]string) (*hostCollector, error) {
	p, err := procfs.NewFS(procRoot)
	if err != nil {
		return nil, fmt.Errorf("agent: open %s: %w", procRoot, err)
	}
	b, err := blockdevice.NewFS(procRoot, sysRoot)
	if err != nil {
		return nil, fmt.Errorf("agent: open %s and %s: %w", procRoot, sysRoot, err)
	}
	h := &hostCollector{proc: p, blk: b}
	for k, v := range base {
		h.base = append(h.base, prompb.Label{Name: k, Value: v})
	}
	return h, nil
}

// seriesBuilder accumulates series at one timestamp.
type seriesBuilder struct {
	base []prompb.Label
	ts   int64
	out  []prompb.TimeSeries
}

// add appends one sample of name with the base labels and the label
// pairs (name, value, name, value, ...).
func (b *seriesBuilder) add(name string, v float64, pairs ...string) {
	ls := make([]prompb.Label, 0, len(b.base)+1+len(pairs)/2)
	ls = append(ls, prompb.Label{Name: "__name__", Value: name})
	ls = append(ls, b.base...)
	for i := 0; i+1 < len(pairs); i += 2 {
		ls = append(ls, prompb.Label{Name: pairs[i], Value: pairs[i+1]})
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	b.out = append(b.out, prompb.TimeSeries{Labels: ls, Samples: []prompb.Sample{{Value: v, Timestamp: b.ts}}})
}

// collect reads everything at timestamp ts (ms). A part that cannot be
// read is left out and its error returned with the others; what could be
// read is returned all the same.
func (h *hostCollector) collect(ts int64) ([]prompb.TimeSeries, error) {
	b := &seriesBuilder{base: h.base, ts: ts}
	var errs []error
	for _, part := range []struct {
		name string
		f    func(*seriesBuilder) error
	}{
		{"stat", h.stat},
		{"meminfo", h.meminfo},
		{"loadavg", h.loadavg},
		{"diskstats", h.diskstats},
		{"filesystem", h.filesystems},
		{"netdev", h.netdev},
		{"processes", h.processes},
	} {
		if err := part.f(b); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", part.name, err))
		}
	}
	return b.out, errors.Join(errs...)
}

// stat: CPU seconds by mode, boot time, context switches, forks, running
// and blocked processes.
func (h *hostCollector) stat(b *seriesBuilder) error {
	st, err := h.proc.Stat()
	if err != nil {
		return err
	}
	cpus := make([]int64, 0, len(st.CPU))
	for id := range st.CPU {
		cpus = append(cpus, id)
	}
	sort.Slice(cpus, func(i, j int) bool { return cpus[i] < cpus[j] })
	for _, id := range cpus {
		c := st.CPU[id]
		cpu := strconv.FormatInt(id, 10)
		for _, m := range []struct {
			mode string
			v    float64
		}{
			{"user", c.User}, {"nice", c.Nice}, {"system", c.System}, {"idle", c.Idle}, {"iowait", c.Iowait},
			{"irq", c.IRQ}, {"softirq", c.SoftIRQ}, {"steal", c.Steal},
		} {
			b.add("node_cpu_seconds_total", m.v, "cpu", cpu, "mode", m.mode)
		}
	}
	b.add("node_boot_time_seconds", float64(st.BootTime))
	b.add("node_context_switches_total", float64(st.ContextSwitches))
	b.add("node_forks_total", float64(st.ProcessCreated))
	b.add("node_procs_running", float64(st.ProcessesRunning))
	b.add("node_procs_blocked", float64(st.ProcessesBlocked))
	return nil
}

// meminfo: node_memory_<Field>_bytes for the fields dashboards use.
func (h *hostCollector) meminfo(b *seriesBuilder) error {
	m, err := h.proc.Meminfo()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *uint64
	}{
		{"MemTotal", m.MemTotalBytes}, {"MemFree", m.MemFreeBytes}, {"MemAvailable", m.MemAvailableBytes},
		{"Buffers", m.BuffersBytes}, {"Cached", m.CachedBytes}, {"SwapTotal", m.SwapTotalBytes},
		{"SwapFree", m.SwapFreeBytes}, {"Active", m.ActiveBytes}, {"Inactive", m.InactiveBytes},
		{"Dirty", m.DirtyBytes}, {"Shmem", m.ShmemBytes}, {"Slab", m.SlabBytes},
	} {
		if f.v != nil {
			b.add("node_memory_"+f.name+"_bytes", float64(*f.v))
		}
	}
	return nil
}

// loadavg: node_load1, node_load5, node_load15.
func (h *hostCollector) loadavg(b *seriesBuilder) error {
	l, err := h.proc.LoadAvg()
	if err != nil {
		return err
	}
	b.add("node_load1", l.Load1)
	b.add("node_load5", l.Load5)
	b.add("node_load15", l.Load15)
	return nil
}

// diskstats: reads, writes, bytes and I/O time per block device.
func (h *hostCollector) diskstats(b *seriesBuilder) error {
	disks, err := h.blk.ProcDiskstats()
	if err != nil {
		return err
	}
	for _, d := range disks {
		dev := d.DeviceName
		b.add("node_disk_reads_completed_total", float64(d.ReadIOs), "device", dev)
		b.add("node_disk_writes_completed_total", float64(d.WriteIOs), "device", dev)
		b.add("node_disk_read_bytes_total", float64(d.ReadSectors*sectorBytes), "device", dev)
		b.add("node_disk_written_bytes_total", float64(d.WriteSectors*sectorBytes), "device", dev)
		b.add("node_disk_io_time_seconds_total", float64(d.IOsTotalTicks)/1000, "device", dev)
		b.add("node_disk_io_now", float64(d.IOsInProgress), "device", dev)
	}
	return nil
}

// filesystems: size, free, available bytes and inodes of every real file
// system mounted.
func (h *hostCollector) filesystems(b *seriesBuilder) error {
	mounts, err := h.proc.GetMounts()
	if err != nil {
		return err
	}
	seen := make(map[string]bool)
	for _, m := range mounts {
		if ignoredFSTypes.MatchString(m.FSType) || ignoredMounts.MatchString(m.MountPoint) || seen[m.MountPoint] {
			continue
		}
		seen[m.MountPoint] = true
		st, err := statFS(m.MountPoint)
		if err != nil {
			// Reported as node_exporter does, not as a failed
			// collection: a stale NFS mount, no permission.
			b.add("node_filesystem_device_error", 1, "device", m.Source, "fstype", m.FSType, "mountpoint", m.MountPoint)
			continue
		}
		pairs := []string{"device", m.Source, "fstype", m.FSType, "mountpoint", m.MountPoint}
		b.add("node_filesystem_size_bytes", st.size, pairs...)
		b.add("node_filesystem_free_bytes", st.free, pairs...)
		b.add("node_filesystem_avail_bytes", st.avail, pairs...)
		b.add("node_filesystem_files", st.files, pairs...)
		b.add("node_filesystem_files_free", st.filesFree, pairs...)
		b.add("node_filesystem_device_error", 0, pairs...)
	}
	return nil
}

// netdev: bytes, packets and errors per network interface.
func (h *hostCollector) netdev(b *seriesBuilder) error {
	nd, err := h.proc.NetDev()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(nd))
	for n := range nd {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		l := nd[n]
		b.add("node_network_receive_bytes_total", float64(l.RxBytes), "device", n)
		b.add("node_network_transmit_bytes_total", float64(l.TxBytes), "device", n)
		b.add("node_network_receive_packets_total", float64(l.RxPackets), "device", n)
		b.add("node_network_transmit_packets_total", float64(l.TxPackets), "device", n)
		b.add("node_network_receive_errs_total", float64(l.RxErrors), "device", n)
		b.add("node_network_transmit_errs_total", float64(l.TxErrors), "device", n)
		b.add("node_network_receive_drop_total", float64(l.RxDropped), "device", n)
		b.add("node_network_transmit_drop_total", float64(l.TxDropped), "device", n)
	}
	return nil
}

// processes: the number of processes (node_exporter's processes
// collector names it node_processes_pids).
func (h *hostCollector) processes(b *seriesBuilder) error {
	procs, err := h.proc.AllProcs()
	if err != nil {
		return err
	}
	b.add("node_processes_pids", float64(len(procs)))
	return nil
}
