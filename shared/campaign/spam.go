package campaign

import (
	"context"
	"fmt"
)

// Meta's spam rate limit. 131048 ("Spam rate limit hit: message failed to
// send because there are restrictions on how many messages can be sent
// from this phone number. This may be because too many previous messages
// were blocked or flagged as spam") comes in a message's failed status,
// after the send. Meta's advice is to stop and look at the number's
// quality; a campaign that went on would only gather more refusals, and
// more blocks. So a run that sees the campaign's 131048 count grow past
// what it was when the run started pauses the campaign, with the count in
// its reason, as a quality drop does (docs/campaigns.md). A resume goes on:
// the refusals before a run are not held against it (messages already
// in flight at the pause may still come back refused and are counted
// then), and a new refusal pauses the campaign again.

// SpamLimitCode is the count of FailedByReason for Meta's spam rate limit.
const SpamLimitCode = "131048"

// spamLimited reads the campaign's counts at most every
// DefaultProgressEvery and returns the reason to pause when Meta refused
// more of its messages with 131048 than when the run started; "" when
// not, or when the counts cannot be read (the next look reads them).
func (ru *run) spamLimited(ctx context.Context) string {
	now := ru.now()
	if now.Before(ru.spamAt) {
		return ""
	}
	ru.spamAt = now.Add(DefaultProgressEvery)
	t, err := ru.Records.Totals(ctx, ru.c.TenantID, ru.c.ID)
	if err != nil {
		return ""
	}
	n := t.FailedByReason[SpamLimitCode]
	if !ru.spamKnown {
		ru.spamBase, ru.spamKnown = n, true
		return ""
	}
	if n <= ru.spamBase {
		return ""
	}
	return fmt.Sprintf("Meta refused %d of the campaign's messages with 131048 (spam rate limit: restrictions on how many messages the number may send, after messages were blocked or flagged as spam), %d of them since this run started: review the number's quality in WhatsApp Manager, then resume",
		n, n-ru.spamBase)
}
