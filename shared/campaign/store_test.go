package campaign_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/campaign/tally"
)

// TestCountsSumEveryShard: a campaign's counts are the sum of its tally
// shards, each under a partition key of its own, and of the shards an
// earlier release kept under the tenant's partition key (still read);
// Get, List and Totals agree; another tenant's shards of a campaign with
// the same id are never counted; a list of campaigns whose shards take
// several BatchGetItem calls counts each.
func TestCountsSumEveryShard(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ddb := dynamodb.NewFromConfig(e.cfg)
	count := func(tenantID, id, key string, d tally.Delta) {
		t.Helper()
		w, err := tally.Write(e.table, tenantID, id, key, d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{w}}); err != nil {
			t.Fatal(err)
		}
	}
	legacy := func(tenantID, id string, n int, counts map[string]string) {
		t.Helper()
		item := map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "tenant#" + tenantID},
			"sk": &ddbtypes.AttributeValueMemberS{Value: tally.LegacySK(id, n)},
		}
		for k, v := range counts {
			item[k] = &ddbtypes.AttributeValueMemberN{Value: v}
		}
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name    string
		key     string
		send    int // messages accepted, sent, delivered and read, each on its own shard key
		legacy  bool
		want    tally.Totals
		reasons map[string]int64
	}{
		{"new layout only", "store-counts-new", 200, false, tally.Totals{Accepted: 200, Sent: 200, Delivered: 200, Read: 200, Failed: 1}, map[string]int64{"131049": 1}},
		{"both layouts", "store-counts-both", 50, true, tally.Totals{Accepted: 53, Sent: 53, Delivered: 50, Read: 50, Failed: 3}, map[string]int64{"131049": 3}},
		{"earlier layout only", "store-counts-old", 0, true, tally.Totals{Accepted: 3, Sent: 3, Failed: 2}, map[string]int64{"131049": 2}},
		{"no counts yet", "store-counts-none", 0, false, tally.Totals{}, map[string]int64{}},
		{"fifth campaign (a second BatchGetItem)", "store-counts-fifth", 40, false, tally.Totals{Accepted: 40, Sent: 40, Delivered: 40, Read: 40, Failed: 1}, map[string]int64{"131049": 1}},
	}
	for _, tt := range tests {
		c := e.campaignWith(t, "tenants/demo/"+tt.key+".csv", "to\n+5511999000001\n", nil)
		for i := range tt.send {
			count("demo", c.ID, fmt.Sprintf("wamid.%s.%d", tt.key, i), tally.Delta{States: []string{tally.Accepted, tally.Sent, tally.Delivered, tally.Read}, Pricing: "marketing"})
		}
		if tt.send > 0 {
			count("demo", c.ID, "job-failed-"+tt.key, tally.Delta{States: []string{tally.Failed}, FailedReason: "131049"})
		}
		if tt.legacy {
			legacy("demo", c.ID, 0, map[string]string{"count_accepted": "2", "count_sent": "2", "count_failed": "1", "reason_131049": "1"})
			legacy("demo", c.ID, 7, map[string]string{"count_accepted": "1", "count_sent": "1", "count_failed": "1", "reason_131049": "1"})
		}
		// Another tenant's shards of a campaign of the same id, in both
		// layouts.
		count("other", c.ID, "wamid.other."+tt.key, tally.Delta{States: []string{tally.Accepted, tally.Sent}})
		legacy("other", c.ID, 1, map[string]string{"count_accepted": "5"})
	}

	list, err := e.store.List(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]campaign.Campaign{}
	for _, c := range list {
		listed[c.ID] = c
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := campaign.NewID("demo", "tenants/demo/"+tt.key+".csv")
			got, err := e.store.Get(ctx, "demo", id)
			if err != nil {
				t.Fatal(err)
			}
			totals, err := e.store.Totals(ctx, "demo", id)
			if err != nil {
				t.Fatal(err)
			}
			l, ok := listed[id]
			if !ok {
				t.Fatalf("campaign %s not listed", id)
			}
			for _, v := range []struct {
				from string
				c    campaign.Counts
				fail map[string]int64
			}{{"Get", got.Counts, got.FailedByReason}, {"List", l.Counts, l.FailedByReason}, {"Totals", campaign.WithTotals(got, totals).Counts, totals.FailedByReason}} {
				if v.c.Accepted != tt.want.Accepted || v.c.Sent != tt.want.Sent || v.c.Delivered != tt.want.Delivered || v.c.Read != tt.want.Read || v.c.Failed != tt.want.Failed {
					t.Errorf("%s: accepted/sent/delivered/read/failed %d/%d/%d/%d/%d, want %d/%d/%d/%d/%d", v.from,
						v.c.Accepted, v.c.Sent, v.c.Delivered, v.c.Read, v.c.Failed,
						tt.want.Accepted, tt.want.Sent, tt.want.Delivered, tt.want.Read, tt.want.Failed)
				}
				if v.fail["131049"] != tt.reasons["131049"] {
					t.Errorf("%s: failed by 131049 %d, want %d", v.from, v.fail["131049"], tt.reasons["131049"])
				}
			}
			if tt.send > 0 && got.Pricing["marketing"] != int64(tt.send) {
				t.Errorf("pricing marketing %d, want %d", got.Pricing["marketing"], tt.send)
			}
		})
	}
}

// unprocessing is DynamoDB answering a BatchGetItem with its last keys
// unprocessed, as it does when a call's answer would pass 16 MB or the
// table's throughput: the first `times` calls leave `left` keys each.
type unprocessing struct {
	campaign.API
	left, times int
	calls       int
}

func (u *unprocessing) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	u.calls++
	if u.calls > u.times {
		return u.API.BatchGetItem(ctx, in, optFns...)
	}
	out := &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{}}
	unprocessed := map[string]ddbtypes.KeysAndAttributes{}
	for table, ka := range in.RequestItems {
		n := max(len(ka.Keys)-u.left, 0)
		out.RequestItems[table] = ddbtypes.KeysAndAttributes{Keys: ka.Keys[:n], ConsistentRead: ka.ConsistentRead}
		unprocessed[table] = ddbtypes.KeysAndAttributes{Keys: ka.Keys[n:], ConsistentRead: ka.ConsistentRead}
	}
	res, err := u.API.BatchGetItem(ctx, out, optFns...)
	if err != nil {
		return nil, err
	}
	res.UnprocessedKeys = unprocessed
	return res, nil
}

// TestCountsReadWhatDynamoDBLeftUnprocessed: shards DynamoDB leaves
// unprocessed are asked for again and counted; keys still unprocessed
// after the tries fail the read (retryable) rather than count short.
func TestCountsReadWhatDynamoDBLeftUnprocessed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ddb := dynamodb.NewFromConfig(e.cfg)
	c := e.campaignWith(t, "tenants/demo/store-unprocessed.csv", "to\n+5511999000001\n", nil)
	for i := range 64 {
		w, err := tally.Write(e.table, "demo", c.ID, fmt.Sprintf("wamid.unprocessed.%d", i), tally.Delta{States: []string{tally.Accepted}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{w}}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		times  int
		want   int64
		failed bool
	}{
		{"left twice, then read", 2, 64, false},
		{"left on every try", 100, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &unprocessing{API: ddb, left: 20, times: tt.times}
			s := &campaign.Store{API: u, Table: e.table}
			got, err := s.Totals(ctx, "demo", c.ID)
			if (err != nil) != tt.failed {
				t.Fatalf("error %v, want failure %v", err, tt.failed)
			}
			if !tt.failed && got.Accepted != tt.want {
				t.Errorf("accepted %d, want %d (%d calls)", got.Accepted, tt.want, u.calls)
			}
		})
	}
}
