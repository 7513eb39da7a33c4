package graph

import (
	"strconv"
	"time"

	"github.com/tucanlink/wacloud/shared/metrics"
)

// Metric names: every Graph call records its latency (so GraphLatency's
// SampleCount is the number of calls) and every failed one an error by
// MetricCode. The function that owns the client adds its Function
// dimension.
const (
	MetricLatency = "GraphLatency" // milliseconds, to the response headers
	MetricErrors  = "GraphErrors"  // by Code
)

// Recorder receives the client's metrics; *metrics.Recorder satisfies it.
type Recorder interface {
	Emit(name string, value float64, unit string, dims ...string)
}

// MetricCode is err's value of GraphErrors' Code dimension: Meta's code
// when Classify knows it by its code (about 50 codes), "other" for any
// other code (so the dimension stays a small set whatever Meta answers),
// "transport" when no answer was read, "http_4xx" or "http_5xx" (the
// status class) for an answer without Meta's error object, and "refused" for a call refused
// before it was made (a media URL the token may not go to).
func MetricCode(err error) string {
	ge, ok := AsError(err)
	switch {
	case !ok:
		return "refused"
	case ge.Transport:
		return "transport"
	case ge.Code != 0 && known(ge.Code):
		return strconv.Itoa(ge.Code)
	case ge.Code != 0:
		return "other"
	}
	return "http_" + strconv.Itoa(ge.HTTPStatus/100) + "xx"
}

// record writes one call's metrics.
func (c *Client) record(start time.Time, err error) {
	if c.Metrics == nil {
		return
	}
	c.Metrics.Emit(MetricLatency, float64(time.Since(start).Microseconds())/1000, metrics.Milliseconds)
	if err != nil {
		c.Metrics.Emit(MetricErrors, 1, metrics.Count, "Code", MetricCode(err))
	}
}

func known(code int) bool {
	_, ok := knownCodes(code)
	return ok
}
