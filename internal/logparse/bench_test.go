package logparse

import "testing"

func BenchmarkFormatParse(b *testing.B) {
	f, err := Compile("<Date> <Time> <Pid> <Level> <Component>: <Content>")
	if err != nil {
		b.Fatal(err)
	}
	line := "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.251.73.220:50010 is added to blk_7128370237687728475 size 67108864"
	dst := make([]string, 0, 8)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		dst, _ = f.Parse(line, dst)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkDetect(b *testing.B) {
	lines := []string{
		`2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster`,
		`<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick on /dev/pts/8`,
		`time=2024-05-01T10:00:00Z level=info msg="request done" status=200 path=/api/v1/x`,
		`{"time":"2024-05-01T10:00:00Z","level":"WARN","msg":"disk 91% full","disk":"sda"}`,
	}
	for _, l := range lines {
		b.Run(Detect(l).Layout.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Detect(l)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
