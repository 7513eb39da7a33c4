// Command media benchmarks the media function: it streams generated media
// of 1, 16 and 100 MB from the Graph API simulator through the real
// handler (media.Setup + Handle) into the embedded S3, and prints one line
// per size:
//
//	size_mb=100 peak_rss_mb=41 mb_per_s=180 sha256_ok=true
//
// The emulator (kumo keeps S3 objects in memory) and the simulator run in
// this process; the handler runs in a child process started per size
// (this binary again, with BENCH_MEDIA_ROLE=handler) that does nothing but
// set up the handler, receive the job from MediaQueue and handle it.
// peak_rss_mb is that child's VmHWM (peak resident set, from
// /proc/self/status) at the end: Go runtime, AWS SDK clients, HTTP
// buffers and upload parts. mb_per_s is size / Handle's wall time (Graph
// lookup, download, sha256, multipart upload to S3, presign, event).
// sha256_ok is the stored object, read back from S3 in this process,
// hashing to the simulator's sha256.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/esm"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/media"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
)

const (
	tenantID      = "bench"
	phoneNumberID = "100000000000091"
	accessToken   = "bench-token"
)

// childResult is what the handler process reports on its last stdout line.
type childResult struct {
	Failed    bool    `json:"failed"`
	PeakRSSKB int64   `json:"peak_rss_kb"`
	Seconds   float64 `json:"seconds"`
	Error     string  `json:"error,omitempty"`
}

func main() {
	if os.Getenv("BENCH_MEDIA_ROLE") == "handler" {
		res := runHandler()
		_ = json.NewEncoder(os.Stdout).Encode(res)
		if res.Error != "" {
			os.Exit(1)
		}
		return
	}
	template := flag.String("template", "template.yaml", "SAM template to provision")
	sizes := flag.String("sizes", "1,16,100", "media sizes in MB")
	flag.Parse()
	if err := run(*template, *sizes); err != nil {
		fmt.Fprintln(os.Stderr, "bench-media:", err)
		os.Exit(1)
	}
}

func run(templatePath, sizeList string) error {
	ctx := context.Background()
	emu := awsemu.Start()
	defer emu.Close()
	cfg := emu.Config()
	tmpl, err := stack.Load(templatePath)
	if err != nil {
		return err
	}
	st, err := stack.Provision(ctx, cfg, tmpl, stack.Options{StackName: "bench-media"})
	if err != nil {
		return err
	}
	fn := st.Functions["MediaFunction"]
	secretID := fn.Env["TENANT_SECRET_PREFIX"] + tenantID
	secret, _ := json.Marshal(tenant.Credentials{AccessToken: accessToken})
	if _, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(secretID), SecretString: aws.String(string(secret))}); err != nil {
		return err
	}
	reg := &tenant.Registry{API: dynamodb.NewFromConfig(cfg), Table: fn.Env["TENANTS_TABLE"]}
	if err := reg.Put(ctx, tenant.Tenant{ID: tenantID, SecretID: secretID}, []tenant.Number{{PhoneNumberID: phoneNumberID, WABAID: "2" + phoneNumberID}}); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	simURL := "http://" + ln.Addr().String()
	sim := graphsim.New(graphsim.Config{BaseURL: simURL, Numbers: []graphsim.Number{{PhoneNumberID: phoneNumberID, AccessToken: accessToken}}})
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	env := map[string]string{}
	for k, v := range fn.Env {
		env[k] = v
	}
	env["GRAPH_API_BASE_URL"] = simURL
	env["S3_USE_PATH_STYLE"] = "true"
	env["AWS_ENDPOINT"] = emu.URL
	envJSON, _ := json.Marshal(env)

	sqsc := sqs.NewFromConfig(cfg)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	for _, f := range strings.Split(sizeList, ",") {
		mbs, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || mbs <= 0 {
			return fmt.Errorf("bad size %q", f)
		}
		o, err := sim.CreateMedia(graphsim.MediaSpec{PhoneNumberID: phoneNumberID, MimeType: "application/pdf",
			Filename: fmt.Sprintf("bench-%dmb.pdf", mbs), Size: int64(mbs) << 20})
		if err != nil {
			return err
		}
		wamid := fmt.Sprintf("wamid.BENCH%d", mbs)
		job, _ := json.Marshal(queue.MediaJob{TenantID: tenantID, PhoneNumberID: phoneNumberID, MessageID: wamid,
			MediaID: o.ID, Kind: media.KindDocument, MimeType: o.MimeType, SHA256: o.SHA256Base64, Filename: o.Filename,
			ContactWaID: "5511999990000", OccurredAt: time.Now().UTC().Format(time.RFC3339)})
		if err := (queue.Publisher{API: sqsc}).Publish(ctx, env["MEDIA_QUEUE_URL"], queue.Message{Body: string(job)}); err != nil {
			return err
		}

		res, err := runChild(envJSON)
		if err != nil {
			return fmt.Errorf("%d MB: %w", mbs, err)
		}
		if res.Failed {
			return fmt.Errorf("%d MB: the handler reported the job as failed", mbs)
		}
		key, err := readyKey(ctx, sqsc, env["CORE_EVENTS_QUEUE_URL"])
		if err != nil {
			return fmt.Errorf("%d MB: %w", mbs, err)
		}
		ok, err := storedSHA256(ctx, s3c, env["DATA_BUCKET"], key, o.SHA256)
		if err != nil {
			return fmt.Errorf("%d MB: %w", mbs, err)
		}
		fmt.Printf("size_mb=%d peak_rss_mb=%d mb_per_s=%.0f sha256_ok=%t\n",
			mbs, (res.PeakRSSKB+512)/1024, float64(mbs)/res.Seconds, ok)
		// Free the emulator's copy before the next size.
		_, _ = s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(env["DATA_BUCKET"]), Key: aws.String(key)})
	}
	return nil
}

func runChild(envJSON []byte) (childResult, error) {
	self, err := os.Executable()
	if err != nil {
		return childResult{}, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "BENCH_MEDIA_ROLE=handler", "BENCH_MEDIA_ENV="+string(envJSON))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	var res childResult
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &res); jerr != nil {
		return res, fmt.Errorf("handler process: %v (output %q)", err, out)
	}
	if res.Error != "" {
		return res, fmt.Errorf("handler process: %s", res.Error)
	}
	return res, err
}

// runHandler is the child: the media function alone.
func runHandler() childResult {
	fail := func(err error) childResult { return childResult{Error: err.Error()} }
	var env map[string]string
	if err := json.Unmarshal([]byte(os.Getenv("BENCH_MEDIA_ENV")), &env); err != nil {
		return fail(err)
	}
	ctx := context.Background()
	cfg := (&awsemu.Emulator{URL: env["AWS_ENDPOINT"]}).Config()
	h, err := media.Setup(ctx, func(k string) string { return env[k] }, cfg)
	if err != nil {
		return fail(err)
	}
	h.Log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h.Metrics = &metrics.Recorder{Out: io.Discard}
	sqsc := sqs.NewFromConfig(cfg)
	out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(env["MEDIA_QUEUE_URL"]), MaxNumberOfMessages: 1, WaitTimeSeconds: 5,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil {
		return fail(err)
	}
	if len(out.Messages) != 1 {
		return fail(fmt.Errorf("no media job on the queue"))
	}
	ev := (&esm.Poller{QueueARN: "arn:aws:sqs:us-east-1:000000000000:MediaQueue", Region: awsemu.Region}).Event(out.Messages)
	start := time.Now()
	resp, err := h.Handle(ctx, ev)
	elapsed := time.Since(start)
	if err != nil {
		return fail(err)
	}
	if len(resp.BatchItemFailures) == 0 {
		_, _ = sqsc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(env["MEDIA_QUEUE_URL"]), ReceiptHandle: out.Messages[0].ReceiptHandle})
	}
	hwm, err := peakRSSKB()
	if err != nil {
		return fail(err)
	}
	return childResult{Failed: len(resp.BatchItemFailures) > 0, PeakRSSKB: hwm, Seconds: elapsed.Seconds()}
}

// peakRSSKB reads VmHWM, the process's peak resident set size.
func peakRSSKB() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// readyKey waits for the media_ready event and returns the object key.
func readyKey(ctx context.Context, c *sqs.Client, queueURL string) (string, error) {
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 1, WaitTimeSeconds: 5})
	if err != nil {
		return "", err
	}
	if len(out.Messages) != 1 {
		return "", fmt.Errorf("no event on the core events queue")
	}
	var ev event.Event
	if err := json.Unmarshal([]byte(aws.ToString(out.Messages[0].Body)), &ev); err != nil {
		return "", err
	}
	_, _ = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: out.Messages[0].ReceiptHandle})
	if ev.Type != event.TypeMediaReady || ev.Media == nil {
		return "", fmt.Errorf("got %s, want %s", ev.Type, event.TypeMediaReady)
	}
	return ev.Media.Key, nil
}

func storedSHA256(ctx context.Context, c *s3.Client, bucket, key, want string) (bool, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return false, err
	}
	defer out.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, out.Body); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == want, nil
}
