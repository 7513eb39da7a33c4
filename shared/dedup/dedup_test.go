package dedup_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/dedup"
)

func newStore(t *testing.T) dedup.Store {
	t.Helper()
	emu := awsemu.StartTest(t)
	c := dynamodb.NewFromConfig(emu.Config())
	table := stack.Fresh(t, emu.Config(), stack.Options{}).Names.Ref["StateTable"]
	return dedup.Store{API: c, Table: table}
}

func TestConcurrentClaimsHaveOneWinner(t *testing.T) {
	s := newStore(t)
	const n = 12
	var wg sync.WaitGroup
	outcomes := make([]dedup.Outcome, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := s.Claim(context.Background(), "evt_same", fmt.Sprintf("delivery-%d", i))
			if err != nil {
				t.Error(err)
			}
			outcomes[i] = o
		}()
	}
	wg.Wait()
	count := map[dedup.Outcome]int{}
	for _, o := range outcomes {
		count[o]++
	}
	if count[dedup.Claimed] != 1 || count[dedup.Duplicate] != n-1 {
		t.Errorf("outcomes = %v, want one claimed and %d duplicates", count, n-1)
	}
}

// putLegacy writes a record as the release before the single-write claim
// did: a claim with a lease, or a completed one.
func putLegacy(t *testing.T, s dedup.Store, key, owner string, leaseUntil time.Time, done bool) {
	t.Helper()
	item := map[string]ddbtypes.AttributeValue{
		"pk":         &ddbtypes.AttributeValueMemberS{Value: "event#" + key},
		"owner":      &ddbtypes.AttributeValueMemberS{Value: owner},
		"status":     &ddbtypes.AttributeValueMemberS{Value: "claimed"},
		"expires_at": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(leaseUntil.Add(8 * 24 * time.Hour).Unix())},
	}
	if done {
		item["status"] = &ddbtypes.AttributeValueMemberS{Value: "done"}
	} else {
		item["lease_until"] = &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(leaseUntil.Unix())}
	}
	if _, err := s.API.(*dynamodb.Client).PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func TestClaimLifecycle(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	steps := []struct {
		name    string
		advance time.Duration
		owner   string
		want    dedup.Outcome
	}{
		{"first claim", 0, "a", dedup.Claimed},
		{"another delivery while the first works", 10 * time.Second, "b", dedup.Duplicate},
		{"the first delivery again (its retry or redrive)", 0, "a", dedup.Claimed},
		{"another delivery much later", 2 * time.Hour, "b", dedup.Duplicate},
		{"the first delivery, from the DLQ, days later", 5 * 24 * time.Hour, "a", dedup.Claimed},
		{"Meta's last retry", 2 * 24 * time.Hour, "d", dedup.Duplicate},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		got, err := s.Claim(ctx, "evt_1", st.owner)
		if err != nil {
			t.Fatal(err)
		}
		if got != st.want {
			t.Errorf("%s: claim = %v, want %v", st.name, got, st.want)
		}
	}
	out, err := s.API.(*dynamodb.Client).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "event#evt_1"}}})
	if err != nil {
		t.Fatal(err)
	}
	exp, ok := out.Item["expires_at"].(*ddbtypes.AttributeValueMemberN)
	if !ok {
		t.Fatalf("no expires_at on %v", out.Item)
	}
	var sec int64
	fmt.Sscan(exp.Value, &sec)
	claimed := now.Add(-2 * 24 * time.Hour) // the last successful claim
	if left := time.Unix(sec, 0).Sub(claimed); left <= 7*24*time.Hour {
		t.Errorf("record expires %v after its last claim, want more than Meta's 7-day retry window", left)
	}
}

// Records of the release that completed claims with a second write: a
// done record stays a duplicate, a live lease is waited for, an expired
// one (its claimer crashed before completing) is taken over.
func TestLegacyRecords(t *testing.T) {
	s := newStore(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	cases := []struct {
		name       string
		leaseUntil time.Time
		done       bool
		owner      string
		want       dedup.Outcome
	}{
		{"done", now.Add(-time.Hour), true, "new", dedup.Duplicate},
		{"done, same owner string", now.Add(-time.Hour), true, "old", dedup.Duplicate},
		{"claimed, lease live", now.Add(time.Minute), false, "new", dedup.Busy},
		{"claimed, lease expired", now.Add(-time.Second), false, "new", dedup.Claimed},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := fmt.Sprintf("legacy_%d", i)
			putLegacy(t, s, key, "old", c.leaseUntil, c.done)
			got, err := s.Claim(context.Background(), key, c.owner)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("claim = %v, want %v", got, c.want)
			}
		})
	}
}
