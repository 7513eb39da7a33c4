package tenant

import (
	"regexp"

	"github.com/tucanlink/wacloud/shared/fault"
)

// MaxIDLength is the longest tenant id. Every id and key derived from a
// tenant id must fit AWS's limits with the longest values of the other
// parts. The tightest is an SQS FIFO message group id (at most 128
// characters), tenant_id:phone_number_id:contact for core events, status
// updates and outbound jobs:
//
//	64 (tenant id) + 1 + 20 (phone number id: Meta's ids are 15-17 digits,
//	20 is the most a 64-bit id has) + 1 + 15 (wa_id: E.164 has at most 15
//	digits) = 101 <= 128
//
// which leaves room for a longer number id or recipient form. (A contact
// known only by a business-scoped user id, up to "CC." + 128 characters,
// does not fit with any tenant id: queue.Publisher shortens such group ids,
// see there.) The others are far from their limits: S3 keys
// tenants/{id}/media/yyyy/mm/dd/{wamid}{ext} (1,024 bytes), secret names
// {SecretPrefix}/webhook/tenants/{id} (512), DynamoDB keys such as
// tenant#{id} (2,048 bytes), S3 metadata (2 KB in all), and the webhook
// route /webhook/{id}.
const MaxIDLength = 64

// IDPattern is the tenant id rule: ASCII letters, digits, '-', '_' and '.',
// starting with a letter or digit (so never "." or ".." as a key or path
// segment), 1 to MaxIDLength characters. It has no ':', '#' or '/', which
// separate the parts of derived ids and keys. The outbound job schema's
// tenant_id pattern is the same expression.
const IDPattern = `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`

// idRE is IDPattern without its length, checked apart: `{0,63}` compiles
// to a program of 131 instructions, work every cold start would pay.
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidID reports whether id follows the tenant id rule (IDPattern).
func ValidID(id string) bool { return len(id) <= MaxIDLength && idRE.MatchString(id) }

// CheckID returns an Invalid error naming the rule when id does not follow
// it. The id itself is not repeated (it may be anything from outside).
func CheckID(id string) error {
	if ValidID(id) {
		return nil
	}
	return fault.Invalidf("tenant id must be 1 to %d ASCII letters, digits, '-', '_' or '.', starting with a letter or digit (got %d characters)", MaxIDLength, len(id))
}
