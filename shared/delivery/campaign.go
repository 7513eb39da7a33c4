package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/campaign/tally"
	"github.com/tucanlink/wacloud/shared/dynamoexpr"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
)

// Uncounted is what message m adds to its campaign's counts now: every
// state it reached that was not counted yet, and its pricing category
// once Meta reported one. A state reached implies those before it in
// Meta's sequence (read: delivered and sent; delivered: sent), so the
// counts stay a funnel when Meta skips or reorders statuses; a message
// with the sender's record was accepted. Empty for a message of no
// campaign.
func Uncounted(m Message) tally.Delta {
	var d tally.Delta
	if m.CampaignID == "" {
		return d
	}
	reached := func(states ...string) bool {
		for _, s := range states {
			if _, ok := m.StatusAt[s]; ok {
				return true
			}
		}
		return false
	}
	add := func(s string, ok bool) {
		if ok && !m.Counted[s] {
			d.States = append(d.States, s)
		}
	}
	add(tally.Accepted, !m.External && m.JobID != "")
	add(tally.Sent, reached(event.StatusSent, event.StatusDelivered, event.StatusRead, event.StatusPlayed))
	add(tally.Delivered, reached(event.StatusDelivered, event.StatusRead, event.StatusPlayed))
	add(tally.Read, reached(event.StatusRead, event.StatusPlayed))
	add(tally.Failed, reached(event.StatusFailed))
	if slices.Contains(d.States, tally.Failed) {
		d.FailedReason = "unknown"
		if len(m.Errors) > 0 && m.Errors[0].Code != 0 {
			d.FailedReason = strconv.Itoa(m.Errors[0].Code)
		}
	}
	if m.Pricing != nil && m.Pricing.Category != "" && !m.Counted[tally.Priced] {
		d.Pricing = m.Pricing.Category
	}
	return d
}

// CountAndMarkNotified adds what message m newly reached to its
// campaign's counts (Uncounted), marks it counted on the message's
// record, and marks states as pushed to the core (as MarkNotified), in
// one transaction: each state counts once however often statuses are
// redelivered or replayed, and the count and the marks are applied
// together or not at all. It returns what it counted (nothing for a
// message of no campaign, or when CampaignsTable is unset: then it is
// MarkNotified). When another status of the message counted first, it
// reads the record and tries again with what is left.
func (s *Store) CountAndMarkNotified(ctx context.Context, m Message, states []string, at time.Time) (tally.Delta, error) {
	for range maxAttempts {
		d := Uncounted(m)
		if s.CampaignsTable == "" || d.Empty() {
			return tally.Delta{}, s.MarkNotified(ctx, m.WAMID, states, at)
		}
		marks := d.Marks()
		e := dynamoexpr.New()
		up := e.Update().Add(attrCounted, &ddbtypes.AttributeValueMemberSS{Value: marks})
		for _, st := range states {
			up.SetIfAbsent(notifiedAttr(st), tstr(at))
		}
		cond := dynamoexpr.And(e.Compare(attrTenant, "=", e.S(m.TenantID)), notCounted(e, marks))
		w, err := tally.Write(s.CampaignsTable, m.TenantID, m.CampaignID, m.WAMID, d)
		if err != nil {
			return tally.Delta{}, fault.PermanentErr(err)
		}
		_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
			{Update: &ddbtypes.Update{
				TableName: &s.Table, Key: key(prefixMsg + m.WAMID),
				UpdateExpression: aws.String(up.String()), ConditionExpression: aws.String(cond),
				ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
			}},
			w,
		}})
		var tc *ddbtypes.TransactionCanceledException
		switch {
		case err == nil:
			return d, nil
		case errors.As(err, &tc) && conditionFailed(tc):
			if m, err = s.Get(ctx, m.WAMID); err != nil {
				return tally.Delta{}, err
			}
		default:
			return tally.Delta{}, fault.Retryable(fmt.Errorf("count message %s in campaign %s: %w", m.WAMID, m.CampaignID, err))
		}
	}
	return tally.Delta{}, fault.Retryable(fmt.Errorf("count message %s in campaign %s: its record kept changing", m.WAMID, m.CampaignID))
}
