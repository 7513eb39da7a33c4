package sender

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/identity"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/suppression"
	"github.com/tucanlink/wacloud/shared/window"
)

// Prereader reads ahead, for a batch's admitted jobs, what each of them
// would otherwise read on its own; *Lookahead satisfies it.
type Prereader interface {
	Preread(ctx context.Context, jobs []outbound.Job)
}

// BatchReader is the part of the DynamoDB client Lookahead uses.
type BatchReader interface {
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// maxBatchGet is how many keys one BatchGetItem may ask for.
const maxBatchGet = 100

// Lookahead reads what a batch's jobs are about to read one by one, in one
// strongly consistent BatchGetItem per table, before their send slots are
// booked: each message recipient's identity and window, with the window's
// other forms (identity.Variants) while no mapping is known (state
// table); for a template, its entries on the tenant's suppression list
// (suppressions table). Windows are read for templates too: a template
// outside the window counts against the portfolio's messaging limit.
// Each job then finds its answers in the instance's caches, and a batch
// of ten jobs to new recipients costs one or two calls instead of ten to
// forty.
//
// What it reads means what a job's own read would: identities and open
// windows are cached under the caches' own rules; a closed window and a
// suppression answer are trusted for DefaultLookaheadFresh, as if the
// batch's jobs had read them as the batch began. Nothing is read for a
// job whose number is not its tenant's (the caller admits jobs first). A
// failed call or a key DynamoDB left unprocessed only costs those jobs
// their own reads. It is safe for concurrent use.
type Lookahead struct {
	API               BatchReader
	StateTable        string
	SuppressionsTable string // empty: suppressions are not read ahead

	Identities   *identityCache   // nil: identities are not read ahead
	Mappings     *identity.Store  // decodes identity items
	Windows      *windowCache     // nil: windows are not read ahead
	Suppressions *suppressionMemo // nil: suppressions are not read ahead
	Log          *slog.Logger
}

// stateWant is what a state-table key was asked for.
type stateWant struct {
	identity bool // else a window
	tenantID string
	number   string
	contact  string // input (identity) or wa_id (window)
}

// Preread reads ahead for jobs (decoded, each naming a number of its own
// tenant).
func (l *Lookahead) Preread(ctx context.Context, jobs []outbound.Job) {
	state := map[string]stateWant{} // pk → want
	var stateKeys []map[string]ddbtypes.AttributeValue
	type suppWant struct{ tenantID, contact string }
	supp := map[string]suppWant{} // tenant#contact key → want
	var suppKeys []map[string]ddbtypes.AttributeValue

	addState := func(k map[string]ddbtypes.AttributeValue, w stateWant) {
		pk := pkOf(k)
		if _, ok := state[pk]; ok {
			return
		}
		state[pk] = w
		stateKeys = append(stateKeys, k)
	}
	for _, job := range jobs {
		input := job.RecipientID()
		if !job.IsMessage() || input == "" || job.TenantID == "" || job.PhoneNumberID == "" {
			continue
		}
		to := input
		if l.Identities != nil && l.Mappings != nil {
			if e, ok := l.Identities.lookup(job.TenantID, job.PhoneNumberID, input); !ok {
				addState(identity.ItemKey(job.TenantID, job.PhoneNumberID, input),
					stateWant{identity: true, tenantID: job.TenantID, number: job.PhoneNumberID, contact: input})
			} else if e.known {
				to = e.Identity
			}
		}
		if l.Windows != nil && (job.NeedsWindow() || job.Type == outbound.TypeTemplate) {
			forms := []string{to}
			if to == input && job.To != "" {
				forms = append(forms, identity.Variants(to)...)
			}
			for _, f := range forms {
				if !l.Windows.cachedOpen(job.PhoneNumberID, f) {
					addState(window.ItemKey(job.PhoneNumberID, f), stateWant{number: job.PhoneNumberID, contact: f})
				}
			}
		}
		if job.Type == outbound.TypeTemplate && l.Suppressions != nil && l.SuppressionsTable != "" {
			for _, c := range []string{input, to} {
				// Read again even when the memo holds an answer: it is
				// trusted as this batch's own read only.
				k, err := suppression.Key(c)
				if err != nil {
					continue
				}
				mk := job.TenantID + "#" + k
				if _, ok := supp[mk]; ok {
					continue
				}
				key, err := suppression.ItemKey(job.TenantID, c)
				if err != nil {
					continue
				}
				supp[mk] = suppWant{tenantID: job.TenantID, contact: k}
				suppKeys = append(suppKeys, key)
			}
		}
	}

	var wg sync.WaitGroup
	if len(suppKeys) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found, unprocessed, err := l.read(ctx, l.SuppressionsTable, suppKeys)
			if err != nil {
				l.log().WarnContext(ctx, "could not read the batch's suppression entries ahead; each job reads its own", "error", err.Error())
			}
			for _, k := range suppKeys {
				id := itemID(k)
				w := supp[suppWantKey(k)]
				if unprocessed[id] {
					// An earlier batch's answer is not this batch's.
					l.Suppressions.forget(w.tenantID, w.contact)
					continue
				}
				l.Suppressions.remember(w.tenantID, w.contact, found[id].ok)
			}
		}()
	}
	if len(stateKeys) > 0 {
		found, unprocessed, err := l.read(ctx, l.StateTable, stateKeys)
		if err != nil {
			l.log().WarnContext(ctx, "could not read the batch's recipients ahead; each job reads its own", "error", err.Error())
		}
		for _, k := range stateKeys {
			pk := pkOf(k)
			w, item := state[pk], found[pk].item
			if unprocessed[pk] {
				if !w.identity {
					l.Windows.forgetAhead(w.number, w.contact)
				}
				continue
			}
			if w.identity {
				m, known := l.Mappings.MappingOf(item)
				l.Identities.remember(w.tenantID, w.number, w.contact, m, known)
				continue
			}
			l.Windows.remember(w.number, w.contact, window.StateOf(item))
		}
	}
	wg.Wait()
}

// foundItem is an item a read returned.
type foundItem struct {
	item map[string]ddbtypes.AttributeValue
	ok   bool
}

// read gets keys from table, up to maxBatchGet at a time. It returns the
// items found by id (pk, or pk#sk), the ids DynamoDB left unprocessed, and
// the first error (after which the remaining keys count as unprocessed).
func (l *Lookahead) read(ctx context.Context, table string, keys []map[string]ddbtypes.AttributeValue) (map[string]foundItem, map[string]bool, error) {
	found := map[string]foundItem{}
	unprocessed := map[string]bool{}
	for start := 0; start < len(keys); start += maxBatchGet {
		end := min(start+maxBatchGet, len(keys))
		out, err := l.API.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{
			table: {Keys: keys[start:end], ConsistentRead: aws.Bool(true)},
		}})
		if err != nil {
			for _, k := range keys[start:] {
				unprocessed[itemID(k)] = true
			}
			return found, unprocessed, fmt.Errorf("read ahead from %s: %w", table, err)
		}
		for _, item := range out.Responses[table] {
			found[itemID(item)] = foundItem{item: item, ok: true}
		}
		for _, k := range out.UnprocessedKeys[table].Keys {
			unprocessed[itemID(k)] = true
		}
	}
	return found, unprocessed, nil
}

func (l *Lookahead) log() *slog.Logger {
	if l.Log != nil {
		return l.Log
	}
	return slog.Default()
}

// pkOf is a key's or an item's partition key.
func pkOf(k map[string]ddbtypes.AttributeValue) string {
	s, _ := k["pk"].(*ddbtypes.AttributeValueMemberS)
	if s == nil {
		return ""
	}
	return s.Value
}

// suppID names a key or an item by its partition and sort keys (the
// state table has no sort key: its pk alone).
func itemID(k map[string]ddbtypes.AttributeValue) string {
	sk, _ := k["sk"].(*ddbtypes.AttributeValueMemberS)
	if sk == nil {
		return pkOf(k)
	}
	return pkOf(k) + "#" + sk.Value
}

// suppWantKey is the tenant#contact a suppression key was asked for.
func suppWantKey(k map[string]ddbtypes.AttributeValue) string {
	sk, _ := k["sk"].(*ddbtypes.AttributeValueMemberS)
	tenantPK := pkOf(k)
	const prefix = "tenant#"
	if sk == nil || len(tenantPK) < len(prefix) {
		return ""
	}
	return tenantPK[len(prefix):] + "#" + sk.Value
}

// suppressionMemo answers Suppressed from a batch's read ahead for
// DefaultLookaheadFresh after that read, else from the list itself. It is
// safe for concurrent use.
type suppressionMemo struct {
	Store Suppressions
	Fresh time.Duration // default DefaultLookaheadFresh
	Now   func() time.Time

	mu sync.Mutex
	m  map[string]memoEntry // tenant#contact key → answer
}

// DefaultLookaheadFresh is how long a closed window or a suppression
// answer read ahead is trusted: about the time a batch's jobs take to
// reach their own checks. A contact who writes in, or opts out, within it
// may be missed by a job of that batch, as one who does so while a job
// waits for its send slot after its checks is.
const DefaultLookaheadFresh = 2 * time.Second

// maxSuppressionMemo bounds the memo; past it, expired answers are dropped.
const maxSuppressionMemo = 10_000

type memoEntry struct {
	on   bool
	read time.Time
}

// Suppressed answers from a fresh read ahead, else asks the list.
func (m *suppressionMemo) Suppressed(ctx context.Context, tenantID, contact string) (bool, error) {
	if k, err := suppression.Key(contact); err == nil {
		m.mu.Lock()
		e, ok := m.m[tenantID+"#"+k]
		m.mu.Unlock()
		if ok && m.now().Sub(e.read) < m.trust() {
			return e.on, nil
		}
	}
	return m.Store.Suppressed(ctx, tenantID, contact)
}

// forget drops an answer read ahead, so the job asks the list itself.
func (m *suppressionMemo) forget(tenantID, key string) {
	m.mu.Lock()
	delete(m.m, tenantID+"#"+key)
	m.mu.Unlock()
}

// remember records an answer read now.
func (m *suppressionMemo) remember(tenantID, key string, on bool) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]memoEntry{}
	}
	if len(m.m) >= maxSuppressionMemo {
		for k, e := range m.m {
			if now.Sub(e.read) >= m.trust() {
				delete(m.m, k)
			}
		}
	}
	if len(m.m) < maxSuppressionMemo {
		m.m[tenantID+"#"+key] = memoEntry{on: on, read: now}
	}
}

func (m *suppressionMemo) trust() time.Duration {
	if m.Fresh > 0 {
		return m.Fresh
	}
	return DefaultLookaheadFresh
}

func (m *suppressionMemo) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}
