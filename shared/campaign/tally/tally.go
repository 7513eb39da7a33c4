// Package tally counts a campaign's messages: accepted by Meta, sent,
// delivered, read, failed (by reason) and by pricing category.
//
// The counts live in shard items of the campaigns table, each under a
// partition key of its own (pk tenant#{tenant_id}#campaign#{id}#n#{k},
// sk "tally", k in 0..Shards-1, chosen by the message). DynamoDB serves
// at most 1,000 write units a second on one partition, and a message
// adds to its campaign up to four times (accepted, sent, delivered,
// read), each in a transaction (2 write units): a campaign at a number's
// full 1,000 msg/s writes ~8,000 units a second to its counts. Spread
// over Shards partition keys that is ~250 a shard, a quarter of the
// limit, with room for Meta's bursts of statuses. (Until this layout the
// shards were sort keys under the tenant's one partition key, beside its
// campaign records: the whole campaign's count writes on one partition.
// Those shards, LegacySK, are still read and summed.)
//
// The sender and the status function add a message's counts in the same
// transaction that marks them counted on the message's own record, so a
// message counts once per state whatever is redelivered or retried;
// campaign.Store sums the shards.
//
// It imports only the AWS SDK's DynamoDB types and expression builder.
package tally

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/dynamoexpr"
)

// Shards is how many counter items, each under a partition key of its
// own, a campaign's message counts spread over. Readers read every one
// of them: the number may grow, never shrink.
const Shards = 32

// Counted states.
const (
	Accepted  = "accepted"
	Sent      = "sent"
	Delivered = "delivered"
	Read      = "read"
	Failed    = "failed"
	// Priced marks a message whose pricing category was counted.
	Priced = "priced"
)

// Attribute name prefixes of the shard items.
const (
	countPrefix   = "count_"
	reasonPrefix  = "reason_"
	pricingPrefix = "pricing_"
)

// Delta is what one message adds to its campaign's counts.
type Delta struct {
	// States are the states the message newly reached (Accepted to
	// Failed); each adds one.
	States []string
	// FailedReason, with Failed, is Meta's error code or the sender's
	// reason.
	FailedReason string
	// Pricing is the pricing category Meta reported, counted once per
	// message.
	Pricing string
}

// Empty reports whether d adds nothing.
func (d Delta) Empty() bool { return len(d.States) == 0 && d.Pricing == "" }

// Marks are the markers of d that the message's record keeps (its
// states, and Priced with a pricing category), so it is never counted
// again.
func (d Delta) Marks() []string {
	out := append([]string(nil), d.States...)
	if d.Pricing != "" {
		out = append(out, Priced)
	}
	return out
}

// ShardSK is the sort key of every shard item.
const ShardSK = "tally"

// Key is the key of shard n of campaign id of tenantID. The partition key
// begins with the tenant's (tenant#{tenant_id}#), which the functions'
// IAM conditions on the table's leading keys name; tenant ids hold no
// '#', so no tenant's key begins with another's.
func Key(tenantID, id string, n int) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "tenant#" + tenantID + "#campaign#" + id + "#n#" + strconv.Itoa(n)},
		"sk": &ddbtypes.AttributeValueMemberS{Value: ShardSK},
	}
}

// CampaignOf returns the campaign id of a shard item's partition key
// (Key) of tenantID.
func CampaignOf(tenantID, pk string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(pk, "tenant#"+tenantID+"#campaign#")
	if !ok {
		return "", false
	}
	i := strings.LastIndex(rest, "#n#")
	if i <= 0 {
		return "", false
	}
	if _, err := strconv.Atoi(rest[i+len("#n#"):]); err != nil {
		return "", false
	}
	return rest[:i], true
}

// Keys are the keys of all of campaign id's shards.
func Keys(tenantID, id string) []map[string]ddbtypes.AttributeValue {
	out := make([]map[string]ddbtypes.AttributeValue, Shards)
	for n := range out {
		out[n] = Key(tenantID, id, n)
	}
	return out
}

// LegacySK is the sort key, under the tenant's partition key
// (tenant#{tenant_id}), of shard n of campaign id in the earlier layout
// (n < 8). Nothing writes it any more; the counts it holds are read.
func LegacySK(id string, n int) string { return LegacyPrefix(id) + strconv.Itoa(n) }

// LegacyPrefix is the sort key prefix of campaign id's shards in the
// earlier layout (LegacySK).
func LegacyPrefix(id string) string { return "campaign#" + id + "#n#" }

// ShardOf returns the campaign id of an earlier layout's shard item's
// sort key (LegacySK).
func ShardOf(sk string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(sk, "campaign#")
	if !ok {
		return "", false
	}
	id, _, ok = strings.Cut(rest, "#n#")
	return id, ok
}

func shard(key string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % Shards)
}

// Write returns the transaction item that adds d to campaign id's counts
// of tenantID in table, on the shard key picks (the message's wamid or
// job id).
func Write(table, tenantID, id, key string, d Delta) (ddbtypes.TransactWriteItem, error) {
	e := dynamoexpr.New()
	upd := e.Update()
	for _, s := range d.States {
		upd.Add(countPrefix+s, one)
		if s == Failed {
			upd.Add(reasonPrefix+Label(d.FailedReason), one)
		}
	}
	if d.Pricing != "" {
		upd.Add(pricingPrefix+Label(d.Pricing), one)
	}
	if upd.Empty() {
		return ddbtypes.TransactWriteItem{}, fmt.Errorf("count messages of campaign %s: nothing to count", id)
	}
	return ddbtypes.TransactWriteItem{Update: &ddbtypes.Update{
		TableName:                 aws.String(table),
		Key:                       Key(tenantID, id, shard(key)),
		UpdateExpression:          aws.String(upd.String()),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}, nil
}

// one is the number every count adds.
var one = &ddbtypes.AttributeValueMemberN{Value: "1"}

// Label is a reason or pricing category as a count's name: lower case
// letters, digits and '_', at most 64 characters ("unknown" when empty).
func Label(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "unknown"
	}
	b := []byte(s)
	if len(b) > 64 {
		b = b[:64]
	}
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Totals are a campaign's message counts, summed over its shards.
type Totals struct {
	Accepted, Sent, Delivered, Read, Failed int64
	FailedByReason                          map[string]int64
	Pricing                                 map[string]int64
}

// Add adds one shard item's counts.
func (t *Totals) Add(item map[string]ddbtypes.AttributeValue) {
	if t.FailedByReason == nil {
		t.FailedByReason = map[string]int64{}
	}
	if t.Pricing == nil {
		t.Pricing = map[string]int64{}
	}
	for name, v := range item {
		n, ok := v.(*ddbtypes.AttributeValueMemberN)
		if !ok {
			continue
		}
		c, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			continue
		}
		switch {
		case name == countPrefix+Accepted:
			t.Accepted += c
		case name == countPrefix+Sent:
			t.Sent += c
		case name == countPrefix+Delivered:
			t.Delivered += c
		case name == countPrefix+Read:
			t.Read += c
		case name == countPrefix+Failed:
			t.Failed += c
		case strings.HasPrefix(name, reasonPrefix):
			t.FailedByReason[name[len(reasonPrefix):]] += c
		case strings.HasPrefix(name, pricingPrefix):
			t.Pricing[name[len(pricingPrefix):]] += c
		}
	}
}
