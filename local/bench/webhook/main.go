// Command webhook measures the webhook function's latency and the events
// per second the local connector sustains end to end (make load-webhook).
// It starts the connector in-process on free loopback ports, posts signed
// payloads (one text message each, spread over several contacts) to the
// API Gateway front, and waits for every normalized event at the core sink.
// It is bounded by -n and -timeout and prints figures; it is not a test.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "load-webhook:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 2000, "payloads posted in the load phase")
	warm := flag.Int("seq", 200, "payloads posted one at a time first (uncontended latency)")
	conc := flag.Int("c", 16, "concurrent posters in the load phase")
	contacts := flag.Int("contacts", 50, "distinct contacts (FIFO groups) the payloads come from")
	pollers := flag.Int("pollers", 2, "concurrent batches per queue")
	timeout := flag.Duration("timeout", 3*time.Minute, "give up after this long")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	var handlerMu sync.Mutex
	var handlerTimes []time.Duration
	fns := map[string]connector.Setup{}
	for k, v := range connector.Functions {
		fns[k] = v
	}
	webhookSetup := fns["WebhookFunction"]
	fns["WebhookFunction"] = func(ctx context.Context, getenv func(string) string, cfg aws.Config) (connector.Built, error) {
		b, err := webhookSetup(ctx, getenv, cfg)
		if err != nil {
			return b, err
		}
		inner := b.HTTP
		b.HTTP = func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			start := time.Now()
			resp, err := inner(ctx, req)
			d := time.Since(start)
			handlerMu.Lock()
			handlerTimes = append(handlerTimes, d)
			handlerMu.Unlock()
			return resp, err
		}
		return b, nil
	}
	h, err := connector.Start(ctx, connector.Options{
		AWSAddr: "-", APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0", SinkAddr: "127.0.0.1:0",
		Functions: fns, Pollers: *pollers, Log: io.Discard, LogLevel: slog.LevelError, Metrics: io.Discard,
	})
	if err != nil {
		return err
	}
	defer h.Close()

	number := &graphsim.Number{PhoneNumberID: connector.DemoPhoneNumberID, WABAID: connector.DemoWABAID, DisplayPhoneNumber: connector.DemoDisplayNumber}
	total := *warm + *n
	payloads := make([][]byte, total)
	for i := range payloads {
		_, p, err := h.Sim.InboundPayload(number, graphsim.InboundRequest{
			From: fmt.Sprintf("55119%08d", i%*contacts), Name: "Load", Text: fmt.Sprintf("load message %d", i),
		})
		if err != nil {
			return err
		}
		payloads[i] = p
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2}, Timeout: 30 * time.Second}
	post := func(p []byte) (time.Duration, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.APIURL+"/webhook", bytes.NewReader(p))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(connector.PlatformAppSecret, p))
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("webhook answered %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	waitEvents := func(want int) (time.Time, error) {
		for h.Sink.Stats().Accepted < want {
			if ctx.Err() != nil {
				return time.Time{}, fmt.Errorf("only %d of %d events reached the sink before the timeout", h.Sink.Stats().Accepted, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Now(), nil
	}

	// Phase 1: one request at a time, then wait for its events to drain.
	var seqRTT []time.Duration
	for i := 0; i < *warm; i++ {
		d, err := post(payloads[i])
		if err != nil {
			return err
		}
		seqRTT = append(seqRTT, d)
	}
	if _, err := waitEvents(*warm); err != nil {
		return err
	}
	handlerMu.Lock()
	seqHandler := append([]time.Duration(nil), handlerTimes...)
	handlerTimes = handlerTimes[:0]
	handlerMu.Unlock()

	// Phase 2: concurrent load, end to end.
	var next atomic.Int64
	next.Store(int64(*warm))
	var loadMu sync.Mutex
	var loadRTT []time.Duration
	var firstErr error
	start := time.Now()
	var wg sync.WaitGroup
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				d, err := post(payloads[i])
				loadMu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				loadRTT = append(loadRTT, d)
				loadMu.Unlock()
			}
		}()
	}
	wg.Wait()
	accepted := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	end, err := waitEvents(total)
	if err != nil {
		return err
	}
	elapsed := end.Sub(start)
	handlerMu.Lock()
	loadHandler := append([]time.Duration(nil), handlerTimes...)
	handlerMu.Unlock()

	st := h.Sink.Stats()
	fmt.Printf("load-webhook: loopback, in-process connector, GOMAXPROCS=%d, pollers/queue=%d\n", runtime.GOMAXPROCS(0), *pollers)
	fmt.Printf("webhook handler, one request at a time (%d): p50 %s  p99 %s  (HTTP round trip p50 %s  p99 %s)\n",
		len(seqHandler), pct(seqHandler, 50), pct(seqHandler, 99), pct(seqRTT, 50), pct(seqRTT, 99))
	fmt.Printf("webhook handler under load, %d concurrent (%d): p50 %s  p99 %s  (HTTP round trip p50 %s  p99 %s)\n",
		*conc, len(loadHandler), pct(loadHandler, 50), pct(loadHandler, 99), pct(loadRTT, 50), pct(loadRTT, 99))
	fmt.Printf("webhook accepted %d payloads in %s: %.0f payloads/s\n", *n, accepted.Round(time.Millisecond), float64(*n)/accepted.Seconds())
	fmt.Printf("end to end: %d events from %d contacts at the core sink in %s: %.0f events/s (sink accepted %d, duplicates %d)\n",
		*n, *contacts, elapsed.Round(time.Millisecond), float64(*n)/elapsed.Seconds(), st.Accepted, st.Duplicates)
	return nil
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)].Round(10 * time.Microsecond)
}
