package campaign_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/outbound"
)

// sent is every job the runs of a campaign put on the outbound queue,
// taken off it after each run.
type sent struct {
	copies map[string]int          // job id -> messages received
	byID   map[string]outbound.Job // job id -> the job
	to     map[string][]string     // recipient -> job ids
}

func newSent() *sent {
	return &sent{copies: map[string]int{}, byID: map[string]outbound.Job{}, to: map[string][]string{}}
}

// take drains the outbound queue into s, checking that every copy of a
// job id is the same job (so the sender's job record sends it once).
func (s *sent) take(t *testing.T, e *env) {
	t.Helper()
	for _, j := range e.jobs(t) {
		s.copies[j.JobID]++
		if prev, ok := s.byID[j.JobID]; ok {
			a, _ := json.Marshal(prev)
			b, _ := json.Marshal(j)
			if !bytes.Equal(a, b) {
				t.Errorf("job %s queued twice with different content: %+v and %+v", j.JobID, prev, j)
			}
			continue
		}
		s.byID[j.JobID] = j
		s.to[j.To] = append(s.to[j.To], j.JobID)
	}
}

// check holds s to the audience's valid rows: one job id per valid row,
// with that row's recipient and parameters, and none for any other row,
// so no recipient has two jobs. A restarted run queues the rows after
// the last checkpoint again, as the same jobs (take checks that): SQS
// FIFO deduplication drops them within its 5 minutes and the sender's
// job record after that; the local emulators keep them, so repeats are
// logged, not refused.
func (s *sent) check(t *testing.T, c campaign.Campaign, want map[int64]expectRow) {
	t.Helper()
	for n, w := range want {
		id := campaign.JobID(c.ID, n)
		j, ok := s.byID[id]
		if !ok {
			t.Errorf("row %d (%s) was not queued", n, w.to)
			continue
		}
		if j.To != w.to || j.CampaignID != c.ID || j.Lane != outbound.LaneBulk {
			t.Errorf("job %s: to %q campaign %q lane %q, want to %q", id, j.To, j.CampaignID, j.Lane, w.to)
		}
		if got := bodyParams(j); got != w.body {
			t.Errorf("job %s: body parameters %q, want %q", id, got, w.body)
		}
	}
	repeats := 0
	for id, n := range s.copies {
		row, err := strconv.ParseInt(strings.TrimPrefix(id, c.ID+"-"), 10, 64)
		if _, ok := want[row]; err != nil || !ok {
			t.Errorf("job %s queued for a row that is not a valid first row of its recipient", id)
		}
		repeats += n - 1
	}
	t.Logf("%d jobs, %d repeated messages of a job (same id and content)", len(s.copies), repeats)
	for to, ids := range s.to {
		if len(ids) > 1 {
			t.Errorf("recipient %s has %d jobs: %v", to, len(ids), ids)
		}
	}
}

func bodyParams(j outbound.Job) string {
	if j.Template == nil {
		return ""
	}
	var out []string
	for _, c := range j.Template.Components {
		if c.Type == "body" {
			for _, p := range c.Parameters {
				out = append(out, p.Text)
			}
		}
	}
	return strings.Join(out, "|")
}

// expectRow is a valid row as the job must carry it.
type expectRow struct{ to, body string }

// generated is an audience with the rows each kind of row is expected at.
type generated struct {
	body    string
	valid   map[int64]expectRow
	invalid map[int64]string // row -> a phrase its reason must hold
	dups    int64
}

// generate writes a CSV audience of n rows for order_confirmation (header
// document, two body parameters): mostly valid rows, and in a pattern
// drawn from rng invalid rows of several kinds and recipients repeated
// from an earlier row.
func generate(rng *rand.Rand, n int) generated {
	g := generated{valid: map[int64]expectRow{}, invalid: map[int64]string{}}
	var b bytes.Buffer
	b.WriteString("to,body.1,body.2,header.document\n")
	var recipients []string
	for i := int64(1); i <= int64(n); i++ {
		to := fmt.Sprintf("+5511988%06d", i)
		name := fmt.Sprintf("Cliente %d, São Paulo", i) // a comma and UTF-8: quoted, offsets in bytes
		switch k := rng.IntN(20); {
		case k == 0:
			fmt.Fprintf(&b, "%s,%q,%d\n", to, name, i) // a column short
			g.invalid[i] = "columns"
		case k == 1:
			fmt.Fprintf(&b, "%s,%q,%d,\n", to, name, i) // no document link
			g.invalid[i] = "document"
		case k == 2:
			fmt.Fprintf(&b, "not-a-number,%q,%d,https://example.com/o.pdf\n", name, i)
			g.invalid[i] = "to"
		case k <= 4 && len(recipients) > 0:
			fmt.Fprintf(&b, "%s,%q,%d,https://example.com/o.pdf\n", recipients[rng.IntN(len(recipients))], name, i)
			g.dups++
		default:
			fmt.Fprintf(&b, "%s,%q,%d,https://example.com/o.pdf\n", to, name, i)
			g.valid[i] = expectRow{to: to, body: name + "|" + strconv.FormatInt(i, 10)}
			recipients = append(recipients, to)
		}
	}
	g.body = b.String()
	return g
}

// seed is the random seed of a test: WACLOUD_TEST_SEED when set (to run
// a failure again), else the time; it is logged either way.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("WACLOUD_TEST_SEED"); v != "" {
		p, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("WACLOUD_TEST_SEED=%q: %v", v, err)
		}
		s = p
	}
	t.Logf("seed %d (WACLOUD_TEST_SEED=%d runs it again)", s, s)
	return s
}

// report downloads every part of the campaign's invalid-rows report from
// S3 (the prefix the campaign names) and returns row -> reason.
func report(t *testing.T, e *env, c campaign.Campaign) map[int64]string {
	t.Helper()
	prefix := campaign.ReportPrefix(c.TenantID, c.ID)
	if c.Report != "" {
		want := "s3://" + e.bucket + "/" + prefix
		if c.Report != want {
			t.Errorf("report %q, want %q", c.Report, want)
		}
	}
	list, err := e.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	for _, o := range list.Contents {
		obj, err := e.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(obj.Body).ReadAll()
		obj.Body.Close()
		if err != nil {
			t.Fatalf("report part %s is not CSV: %v", aws.ToString(o.Key), err)
		}
		if len(recs) == 0 || strings.Join(recs[0], ",") != "row,to,reason" {
			t.Fatalf("report part %s: header %v, want row,to,reason", aws.ToString(o.Key), recs)
		}
		for _, r := range recs[1:] {
			n, err := strconv.ParseInt(r[0], 10, 64)
			if err != nil || len(r) != 3 {
				t.Fatalf("report part %s: line %q", aws.ToString(o.Key), r)
			}
			if _, dup := out[n]; dup {
				t.Errorf("row %d is in the report twice", n)
			}
			out[n] = r[2]
		}
	}
	return out
}

func checkReport(t *testing.T, got, want map[int64]string) {
	t.Helper()
	rows := func(m map[int64]string) []int64 {
		var out []int64
		for n := range m {
			out = append(out, n)
		}
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		return out
	}
	if g, w := fmt.Sprint(rows(got)), fmt.Sprint(rows(want)); g != w {
		t.Errorf("report rows %s, want %s", g, w)
	}
	for n, phrase := range want {
		if r, ok := got[n]; ok && !strings.Contains(r, phrase) {
			t.Errorf("report row %d: reason %q does not mention %q", n, r, phrase)
		}
	}
}

// TestRunnerRestartsAtRandomRows: a campaign whose runs stop without a
// commit after a random number of rows, several times (as crashes or
// timeouts would, their jobs already queued), and then run to the end,
// queues every valid row exactly once, counts every row exactly, and
// reports every invalid row once with its reason. The seed is logged.
func TestRunnerRestartsAtRandomRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 14))
	for round := range 3 {
		rows := 120 + rng.IntN(200)
		crashes := make([]int64, 2+rng.IntN(4))
		for i := range crashes {
			crashes[i] = 1 + rng.Int64N(int64(rows)/2)
		}
		every := []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, time.Second}[rng.IntN(3)]
		t.Run(fmt.Sprintf("round %d: %d rows, crashes after %v rows, commits every %s", round, rows, crashes, every), func(t *testing.T) {
			e := newEnv(t)
			g := generate(rng, rows)
			c := e.campaign(t, fmt.Sprintf("tenants/demo/campaigns/random-%d.csv", round), g.body)
			e.r.Every = every
			cmd := campaign.Command{TenantID: "demo", CampaignID: c.ID}
			s := newSent()
			for _, k := range crashes {
				e.r.StopAfterRows = k
				err := e.r.Run(context.Background(), cmd)
				if err != nil && !strings.Contains(err.Error(), "crash") {
					t.Fatalf("run stopping after %d rows: %v", k, err)
				}
				s.take(t, e)
				e.clock.Add(time.Hour) // the stopped run's lease expires
			}
			e.r.StopAfterRows = 0
			for range 3 { // the last run completes; repeats find it done
				if err := e.r.Run(context.Background(), cmd); err != nil {
					t.Fatal(err)
				}
			}
			s.take(t, e)
			s.check(t, c, g.valid)
			got, err := e.store.Get(context.Background(), "demo", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := campaign.Counts{Rows: int64(rows), Invalid: int64(len(g.invalid)), Duplicates: g.dups, Queued: int64(len(g.valid))}
			if got.State != campaign.StateCompleted || got.Counts != want {
				t.Errorf("campaign %s %+v, want completed %+v", got.State, got.Counts, want)
			}
			checkReport(t, report(t, e, got), g.invalid)
		})
	}
}

// TestRunnerJSONLAudience: a JSON Lines audience (one object per line,
// the CSV's column names as keys, numbers and booleans taken as their
// text, blank lines skipped) is sent row by row as a CSV one is, also
// when a run stops part-way and the next resumes at the byte offset;
// lines that are not objects of strings are invalid rows with a reason.
func TestRunnerJSONLAudience(t *testing.T) {
	lines := []string{
		`{"to":"+5511977000001","body.1":"Ana","body.2":"A-1","header.document":"https://example.com/1.pdf"}`,
		`{"to":"5511977000002","body.1":"Zoë ✓","body.2":1042,"header.document":"https://example.com/2.pdf"}`,
		``,
		`{"to":"+5511977000003","body.1":"Bruno","body.2":true,"header.document":"https://example.com/3.pdf"}`,
		`{"to":"+5511977000004","body.1":"Carla"`,
		`["+5511977000005","Davi"]`,
		`{"to":"+5511977000006","body.1":{"text":"Eva"},"body.2":"x","header.document":"https://example.com/6.pdf"}`,
		`{"to":"5511977000001","body.1":"Ana again","body.2":"A-2","header.document":"https://example.com/1.pdf"}`,
		`{"to":"+5511977000007","body.1":"Fábio","body.2":"F-7","header.document":"https://example.com/7.pdf","body.3":"extra"}`,
		`{"to":"+5511977000008","body.1":"Gil","body.2":"G-8","header.document":"https://example.com/8.pdf"}`,
		`   `,
		`{"to":"+5511977000009","body.1":"Hugo","body.2":"H-9","header.document":"https://example.com/9.pdf"}`,
	}
	body := strings.Join(lines, "\n") + "\n"
	valid := map[int64]expectRow{
		1:  {"+5511977000001", "Ana|A-1"},
		2:  {"5511977000002", "Zoë ✓|1042"},
		3:  {"+5511977000003", "Bruno|true"},
		9:  {"+5511977000008", "Gil|G-8"},
		10: {"+5511977000009", "Hugo|H-9"},
	}
	invalid := map[int64]string{4: "JSON object", 5: "JSON object", 6: "must be a string", 8: "parameter"}
	for _, stopAfter := range []int64{0, 2, 5, 8} {
		t.Run(fmt.Sprintf("stopped after %d rows", stopAfter), func(t *testing.T) {
			e := newEnv(t)
			c := e.campaign(t, fmt.Sprintf("tenants/demo/campaigns/list-%d.jsonl", stopAfter), body)
			e.r.Every = time.Millisecond // a checkpoint after (almost) every row
			cmd := campaign.Command{TenantID: "demo", CampaignID: c.ID}
			s := newSent()
			if stopAfter > 0 {
				e.r.StopAfterRows = stopAfter
				if err := e.r.Run(context.Background(), cmd); err == nil || !strings.Contains(err.Error(), "crash") {
					t.Fatalf("run stopping after %d rows: %v", stopAfter, err)
				}
				s.take(t, e)
				e.clock.Add(time.Hour)
				e.r.StopAfterRows = 0
			}
			if err := e.r.Run(context.Background(), cmd); err != nil {
				t.Fatal(err)
			}
			s.take(t, e)
			s.check(t, c, valid)
			got, err := e.store.Get(context.Background(), "demo", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := campaign.Counts{Rows: 10, Invalid: 4, Duplicates: 1, Queued: 5}
			if got.State != campaign.StateCompleted || got.Counts != want {
				t.Errorf("campaign %s %+v, want completed %+v", got.State, got.Counts, want)
			}
			checkReport(t, report(t, e, got), invalid)
		})
	}
}

// TestTwoRunnersAtOnce: two invocations run the same campaign at once
// (a repeated run command, a redelivery while a slow run still works).
// Started together, one holds the lease and the other does nothing; when
// the first stalls past its lease, the second takes the campaign over
// and completes it, and the first, waking up, loses its next commit and
// stops. Either way each valid row is queued once and the counts are
// exact.
func TestTwoRunnersAtOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 41))
	t.Run("started together", func(t *testing.T) {
		e := newEnv(t)
		g := generate(rng, 150)
		c := e.campaign(t, "tenants/demo/campaigns/together.csv", g.body)
		cmd := campaign.Command{TenantID: "demo", CampaignID: c.ID}
		second := e.runner(t)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, r := range []*campaign.Runner{e.r, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = r.Run(context.Background(), cmd)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("runner %d: %v", i+1, err)
			}
		}
		// Whichever lost the lease left it to the other; a further
		// command finds the campaign complete.
		if err := second.Run(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
		s := newSent()
		s.take(t, e)
		s.check(t, c, g.valid)
		got, _ := e.store.Get(context.Background(), "demo", c.ID)
		want := campaign.Counts{Rows: 150, Invalid: int64(len(g.invalid)), Duplicates: g.dups, Queued: int64(len(g.valid))}
		if got.State != campaign.StateCompleted || got.Counts != want {
			t.Errorf("campaign %s %+v, want completed %+v", got.State, got.Counts, want)
		}
	})
	t.Run("the first stalls past its lease", func(t *testing.T) {
		e := newEnv(t)
		g := generate(rng, 200)
		c := e.campaign(t, "tenants/demo/campaigns/stalled.csv", g.body)
		cmd := campaign.Command{TenantID: "demo", CampaignID: c.ID}
		e.r.Every = 100 * time.Millisecond
		// Pacing waits once a batch ahead (8 rows at 80/s): a wait
		// well before the last.
		stallAt := 2 + rng.IntN(len(g.valid)/10)
		t.Logf("the first runner stalls at its pacing wait %d", stallAt)
		stalled, resume := make(chan struct{}), make(chan struct{})
		waits := 0
		e.r.Sleep = func(_ context.Context, d time.Duration) error {
			if waits++; waits == stallAt {
				close(stalled)
				<-resume
			}
			e.clock.Add(d)
			return nil
		}
		first := make(chan error, 1)
		go func() { first <- e.r.Run(context.Background(), cmd) }()
		select {
		case <-stalled:
		case err := <-first:
			t.Fatalf("the first runner ended before stalling: %v", err)
		}
		e.clock.Add(time.Hour) // its lease runs out while it stalls
		second := e.runner(t)
		second.Every = 100 * time.Millisecond
		if err := second.Run(context.Background(), cmd); err != nil {
			t.Fatalf("second runner: %v", err)
		}
		close(resume)
		if err := <-first; !errors.Is(err, campaign.ErrLease) {
			t.Errorf("the first runner after its stall: %v, want its commit refused (lease lost)", err)
		}
		s := newSent()
		s.take(t, e)
		s.check(t, c, g.valid)
		got, _ := e.store.Get(context.Background(), "demo", c.ID)
		want := campaign.Counts{Rows: 200, Invalid: int64(len(g.invalid)), Duplicates: g.dups, Queued: int64(len(g.valid))}
		if got.State != campaign.StateCompleted || got.Counts != want {
			t.Errorf("campaign %s %+v, want completed %+v", got.State, got.Counts, want)
		}
		checkReport(t, report(t, e, got), g.invalid)
	})
}

// TestInvalidRowsReport: the invalid-rows report is CSV parts under the
// prefix the campaign names (report), in the tenant's own S3 prefix, one
// line per invalid row with its row number (data rows from 1, after the
// header), recipient and reason; a reason with a comma or quote stays one
// field.
func TestInvalidRowsReport(t *testing.T) {
	body := "to,body.1,body.2,header.document\n" +
		"+5511966000001,Ana,1,https://example.com/1.pdf\n" +
		"+5511966000002,\"Bia, \"\"B\"\"\",2\n" + // 3 columns
		"12,Caio,3,https://example.com/3.pdf\n" + // not a phone number
		"+5511966000004,,4,https://example.com/4.pdf\n" + // an empty parameter
		"+5511966000005,Duda,5,ftp://example.com/5.pdf\n" + // not an https link
		"+5511966000006,Enzo,6,https://example.com/6.pdf,extra\n" + // 5 columns
		"+5511966000007,Flor,7,https://example.com/7.pdf\n"
	e := newEnv(t)
	c := e.campaign(t, "tenants/demo/campaigns/report.csv", body)
	e.r.Every = time.Millisecond
	e.r.StopAfterRows = 4
	cmd := campaign.Command{TenantID: "demo", CampaignID: c.ID}
	if err := e.r.Run(context.Background(), cmd); err == nil {
		t.Fatal("the stopping run completed")
	}
	e.clock.Add(time.Hour)
	e.r.StopAfterRows = 0
	if err := e.r.Run(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	got, err := e.store.Get(context.Background(), "demo", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Counts.Invalid != 5 || got.Counts.Queued != 2 {
		t.Errorf("counts %+v, want 5 invalid and 2 queued", got.Counts)
	}
	rep := report(t, e, got)
	want := map[int64]string{2: "columns", 3: "E.164", 4: "text", 5: "link", 6: "columns"}
	for n, r := range rep {
		t.Logf("row %d: %s", n, r)
	}
	checkReport(t, rep, want)
	if !strings.HasPrefix(campaign.ReportPrefix("demo", c.ID), "tenants/demo/") {
		t.Errorf("report prefix %s is not in the tenant's prefix", campaign.ReportPrefix("demo", c.ID))
	}
}

// brokenObjects serves the audience through a stream that breaks after
// n bytes on its first read, as a reset connection or a client timeout
// does.
type brokenObjects struct {
	campaign.Objects
	n     int64
	broke bool
}

func (b *brokenObjects) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	out, err := b.Objects.GetObject(ctx, in, optFns...)
	if err != nil || b.broke {
		return out, err
	}
	b.broke = true
	out.Body = io.NopCloser(io.MultiReader(io.LimitReader(out.Body, b.n), iotestErr{}))
	return out, nil
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

// TestRunnerAudienceStreamBreaks: a stream of the audience that breaks
// part-way is not a bad file: the run commits what it did and hands over,
// and the next run reads on from the checkpoint; the campaign completes
// with every valid row queued once and exact counts (it used to fail).
func TestRunnerAudienceStreamBreaks(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 7))
	for _, format := range []string{"csv", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			e := newEnv(t)
			g := generate(rng, 120)
			body := g.body
			if format == "jsonl" {
				cr := csv.NewReader(strings.NewReader(g.body))
				cr.FieldsPerRecord = -1
				recs, err := cr.ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				for _, r := range recs[1:] {
					obj := map[string]string{}
					for i, v := range r {
						obj[recs[0][i]] = v
					}
					line, _ := json.Marshal(obj)
					b.Write(line)
					b.WriteByte('\n')
				}
				body = b.String()
				// A CSV row a column short is a JSON object without the
				// last key: invalid either way, with other reasons.
				for n := range g.invalid {
					g.invalid[n] = ""
				}
			}
			c := e.campaign(t, "tenants/demo/campaigns/broken."+format, body)
			e.r.Every = 100 * time.Millisecond
			e.r.Objects = &brokenObjects{Objects: e.r.Objects, n: int64(len(body) / 2)}
			cmd := campaign.Command{TenantID: "demo", CampaignID: c.ID}
			for range 3 {
				if err := e.r.Run(context.Background(), cmd); err != nil {
					t.Fatal(err)
				}
			}
			s := newSent()
			s.take(t, e)
			s.check(t, c, g.valid)
			got, _ := e.store.Get(context.Background(), "demo", c.ID)
			want := campaign.Counts{Rows: 120, Invalid: int64(len(g.invalid)), Duplicates: g.dups, Queued: int64(len(g.valid))}
			if got.State != campaign.StateCompleted || got.Counts != want {
				t.Errorf("campaign %s (%s) %+v, want completed %+v", got.State, got.Reason, got.Counts, want)
			}
			checkReport(t, report(t, e, got), g.invalid)
		})
	}
}

// failingObjects fails every read of the audience (S3 unavailable).
type failingObjects struct{ campaign.Objects }

func (failingObjects) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, errors.New("s3 unavailable")
}

// recordedVisibility records the visibility changes the runner asks for
// and makes them on the emulator's queue.
type recordedVisibility struct {
	campaign.Visibility
	got []int32
}

func (v *recordedVisibility) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	v.got = append(v.got, in.VisibilityTimeout)
	return v.Visibility.ChangeMessageVisibility(ctx, in, optFns...)
}

// TestRunnerRetryBacksOff: a run that fails for a retryable reason
// returns its command to the queue after the backoff of its receive
// count (10 s, 20 s, … up to 15 min), not after the campaign queue's
// 90-minute visibility timeout, and reports it as a batch item failure.
// The run first kept its command for 90 s (keep.go); the backoff is the
// last word.
func TestRunnerRetryBacksOff(t *testing.T) {
	e := newEnv(t)
	body, _ := audience(10)
	c := e.campaign(t, "tenants/demo/campaigns/backoff.csv", body)
	e.r.Objects = failingObjects{e.r.Objects}
	rec := &recordedVisibility{Visibility: e.r.Visibility}
	e.r.Visibility = rec
	if err := e.r.Wake.Run(context.Background(), "demo", c.ID, 0); err != nil {
		t.Fatal(err)
	}
	out, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.r.QueueURL), MaxNumberOfMessages: 1, WaitTimeSeconds: 2,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive the run command: %v, %d messages", err, len(out.Messages))
	}
	m := out.Messages[0]
	tests := []struct {
		receives string
		want     int32
	}{{"1", 10}, {"2", 20}, {"4", 80}, {"9", 900}}
	for _, tt := range tests {
		t.Run("receive "+tt.receives, func(t *testing.T) {
			rec.got = nil
			attrs := map[string]string{"ApproximateReceiveCount": tt.receives}
			ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
				Body: aws.ToString(m.Body), Attributes: attrs}}}
			resp, err := e.r.Handle(context.Background(), ev)
			if err != nil || len(resp.BatchItemFailures) != 1 {
				t.Fatalf("Handle: %v, %+v, want the command failed", err, resp)
			}
			if len(rec.got) != 2 || rec.got[0] != 90 || rec.got[1] != tt.want {
				t.Errorf("visibility changes %v, want [90 %d] (kept, then backed off)", rec.got, tt.want)
			}
		})
	}
}
