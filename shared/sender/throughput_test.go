package sender

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/throttle"
	"github.com/tucanlink/wacloud/shared/window"
)

// A 130429 one sender instance gets slows the number down for every
// instance: the next lease of another instance hands out half the rate.
func TestThrottledByMetaSlowsEveryInstance(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	seen, other := e.handler(t), e.handler(t)
	// The limiters' clock stands still, so the rate's recovery does not
	// depend on how long the test takes.
	frozen := time.UnixMicro(time.Now().UnixMicro()) // as the schedule record keeps it
	for _, h := range []*Handler{seen, other} {
		h.Numbers.(*throttle.Limiter).Now = func() time.Time { return frozen }
	}
	w := window.Store{API: e.ddb, Table: e.stack.Names.Ref["StateTable"]}
	job := func(i int) string {
		to := rcpt(t, fmt.Sprintf("%03d", 400+i))
		if err := w.RecordInbound(ctx, numberB, strings.TrimPrefix(to, "+"), time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		return to
	}
	to := job(1)
	e.sim.AddFault(graphsim.Fault{Code: 130429, To: to, Count: 1})
	j := textJob(jid(t, "meta-throttled-1"), to, "x")
	j.TenantID, j.PhoneNumberID = "other", numberB
	if failed := handle(t, seen, record(t, j, 1)); len(failed) != 1 {
		t.Fatalf("failed records %v, want the job retried", failed)
	}
	out, err := e.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.stack.Names.Ref["StateTable"]),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "rate#num#" + numberB}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := out.Item["slow"].(*ddbtypes.AttributeValueMemberN)
	at, _ := out.Item["slow_at"].(*ddbtypes.AttributeValueMemberN)
	if v == nil || v.Value != "500" || at == nil {
		t.Fatalf("schedule record's slow = %+v at %+v, want 500 (half the rate)", out.Item["slow"], out.Item["slow_at"])
	}
	// A run of this test less than a second earlier (go test -count) halved
	// it already: this one is not halved again, and recovers from then.
	us, _ := strconv.ParseInt(at.Value, 10, 64)
	want := 0.5 + throttle.DefaultRecovery*frozen.Sub(time.UnixMicro(us)).Seconds()
	e.coreEvents(t, j.JobID)

	j2 := textJob(jid(t, "meta-throttled-2"), job(2), "x")
	j2.TenantID, j2.PhoneNumberID = "other", numberB
	if failed := handle(t, other, record(t, j2, 1)); len(failed) != 0 {
		t.Fatalf("failed records %v", failed)
	}
	e.coreEvents(t, j2.JobID)
	if f := other.Numbers.(*throttle.Limiter).Stats(numberB).Factor; math.Abs(f-want) > 1e-9 || f > 0.6 {
		t.Errorf("the other instance paces number %s at %.3f of its rate, want %.3f (about half)", numberB, f, want)
	}
}

// limitRecorder records the limits the sender paces numbers at, and sends
// nothing (every job comes back later).
type limitRecorder struct {
	NumberLimiter
	mu     sync.Mutex
	limits map[string]int
}

func (l *limitRecorder) WaitLead(ctx context.Context, phoneNumberID string, perSecond int, lane throttle.Lane, lead time.Duration) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limits[phoneNumberID] = perSecond
	return 0, &throttle.WaitError{Wait: time.Hour, What: "number"}
}

func (l *limitRecorder) Prefetch(ctx context.Context, phoneNumberID string, perSecond, n int, lane throttle.Lane) {
}

// The sender paces a number at its registered throughput, and a number
// shared with the WhatsApp Business app at 20 per second whatever else
// the registry says.
func TestPacesAtTheNumbersLimit(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	run := runOf(t)
	tid := fmt.Sprintf("coex-%d", run)
	pn := func(i int) string { return fmt.Sprintf("1999%09d%d", run, i) }
	cases := []struct {
		name string
		n    tenant.Number
		want int
	}{
		{"registered throughput", tenant.Number{PhoneNumberID: pn(1), Throughput: 1000}, 1000},
		{"lowered throughput", tenant.Number{PhoneNumberID: pn(2), Throughput: 40}, 40},
		{"on the Business app", tenant.Number{PhoneNumberID: pn(3), OnBizApp: true}, tenant.BizAppThroughput},
		{"on the Business app after an upgrade", tenant.Number{PhoneNumberID: pn(4), OnBizApp: true, Throughput: 1000}, tenant.BizAppThroughput},
	}
	var numbers []tenant.Number
	for _, tc := range cases {
		tc.n.WABAID = "W" + tid
		numbers = append(numbers, tc.n)
	}
	reg := &tenant.Registry{API: e.ddb, Table: e.stack.Names.Ref["TenantsTable"]}
	secret := "wacloud/tenants/" + tid
	if _, err := secretsmanager.NewFromConfig(e.cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secret), SecretString: aws.String(`{"access_token":"t"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Put(ctx, tenant.Tenant{ID: tid, SecretID: secret}, numbers); err != nil {
		t.Fatal(err)
	}
	h := e.handler(t)
	rec := &limitRecorder{NumberLimiter: h.Numbers, limits: map[string]int{}}
	h.Numbers = rec
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := outbound.Job{JobID: jid(t, fmt.Sprintf("limit-%d", i)), TenantID: tid, PhoneNumberID: tc.n.PhoneNumberID,
				To: rcpt(t, fmt.Sprintf("%03d", 500+i)), Type: outbound.TypeTemplate,
				Template: &outbound.Template{Name: "hello_world", Language: outbound.TemplateLanguage{Code: "en_US"}}}
			handle(t, h, record(t, j, 1))
			if got := rec.limits[tc.n.PhoneNumberID]; got != tc.want {
				t.Errorf("paced at %d per second, want %d", got, tc.want)
			}
		})
	}
}
