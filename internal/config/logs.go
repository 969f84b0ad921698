package config

import logdetect "github.com/osprey-aiops/osprey/internal/detect/logs"

// Detector returns the log anomaly detector's configuration: its defaults
// with the bucket, new-template warm-up and series cap of this section.
func (c LogsConfig) Detector() logdetect.Config {
	d := logdetect.DefaultConfig()
	d.Bucket = c.Bucket
	d.Warmup = c.NewTemplateWarmup
	d.WarmupLines = c.NewTemplateWarmupLines
	d.MaxSeries = c.MaxTemplateSeries
	return d
}
