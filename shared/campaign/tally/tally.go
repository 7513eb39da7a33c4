// Package tally counts a campaign's messages: accepted by Meta, sent,
// delivered, read, failed (by reason) and by pricing category.
//
// The counts live in shard items of the campaigns table beside the
// campaign's record (pk tenant#{tenant_id}, sk campaign#{id}#n#{k}, k in
// 0..Shards-1, chosen by the message), so a campaign sending at its
// number's full rate spreads its counter writes over Shards items
// instead of one item's write limit. The sender and the status function
// add a message's counts in the same transaction that marks them counted
// on the message's own record, so a message counts once per state
// whatever is redelivered or retried; campaign.Store sums the shards.
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

// Shards is how many counter items a campaign's message counts spread
// over.
const Shards = 8

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

// SK is the sort key of shard n of campaign id.
func SK(id string, n int) string { return "campaign#" + id + "#n#" + strconv.Itoa(n) }

// ShardOf returns the campaign id of a shard item's sort key.
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
		TableName: aws.String(table),
		Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "tenant#" + tenantID},
			"sk": &ddbtypes.AttributeValueMemberS{Value: SK(id, shard(key))},
		},
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
