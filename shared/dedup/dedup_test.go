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
	return dedup.Store{API: c, Table: table, Lease: time.Minute}
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
			o, err := s.Claim(context.Background(), "evt_same", fmt.Sprintf("worker-%d", i))
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
	if count[dedup.Claimed] != 1 || count[dedup.Busy] != n-1 {
		t.Errorf("outcomes = %v, want one claimed and %d busy", count, n-1)
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
		done    bool // mark done before this claim
		want    dedup.Outcome
	}{
		{"first claim", 0, "a", false, dedup.Claimed},
		{"other worker during lease", 10 * time.Second, "b", false, dedup.Busy},
		{"same owner again (its retry)", 0, "a", false, dedup.Claimed},
		{"other worker after lease", 2 * time.Minute, "b", false, dedup.Claimed},
		{"first worker back, lease taken", 0, "a", false, dedup.Busy},
		{"after done", 0, "c", true, dedup.Duplicate},
		{"after done, same owner", 0, "b", false, dedup.Duplicate},
		{"after done, long after", 7 * 24 * time.Hour, "d", false, dedup.Duplicate},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		if st.done {
			if err := s.Done(ctx, "evt_1"); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Claim(ctx, "evt_1", st.owner)
		if err != nil {
			t.Fatal(err)
		}
		if got != st.want {
			t.Errorf("%s: claim = %v, want %v", st.name, got, st.want)
		}
	}
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "event#evt_1"}}})
	if err != nil {
		t.Fatal(err)
	}
	exp, ok := out.Item["expires_at"].(*ddbtypes.AttributeValueMemberN)
	if !ok {
		t.Fatalf("no expires_at on %v", out.Item)
	}
	var sec int64
	fmt.Sscan(exp.Value, &sec)
	if left := time.Unix(sec, 0).Sub(now.Add(-7 * 24 * time.Hour)); left <= 7*24*time.Hour {
		t.Errorf("record expires %v after it was done, want more than Meta's 7-day retry window", left)
	}
}
