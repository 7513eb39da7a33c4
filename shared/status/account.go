package status

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/msglimit"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// account turns a non-messages change into account.<field> events, applying
// a throughput upgrade to the number first.
func (h *Handler) account(ctx context.Context, rec events.SQSMessage, u whatsapp.Unit) error {
	changes, err := event.ParseAccountChanges(u.Field, u.Value)
	if err != nil {
		return fault.InvalidErr(fmt.Errorf("account change of tenant %s WABA %s: %w", u.TenantID, u.WABAID, err))
	}
	log := h.log().With("tenant_id", u.TenantID, "waba_id", u.WABAID, "field", u.Field)
	var evs []event.Event
	for _, c := range changes {
		ev := event.Event{
			SchemaVersion: event.SchemaVersion,
			Type:          event.TypeAccountPrefix + u.Field,
			TenantID:      u.TenantID,
			PhoneNumberID: u.Metadata.PhoneNumberID,
			WABAID:        u.WABAID,
			OccurredAt:    accountTime(c, u.ReceivedAt, h.now()),
			Account:       &c,
		}
		if display := displayNumber(c); ev.PhoneNumberID == "" && display != "" {
			id, err := h.numberByDisplay(ctx, u.TenantID, display)
			if err != nil {
				return err
			}
			ev.PhoneNumberID = id
			if c.PhoneNumber != nil {
				c.PhoneNumber.PhoneNumberID = id
			}
		}
		if c.Template != nil {
			if err := h.template(ctx, u, c, log); err != nil {
				return err
			}
		}
		if u.Field == event.FieldPhoneQuality && c.PhoneNumber != nil {
			if err := h.messagingLimit(ctx, u, ev.PhoneNumberID, c, log); err != nil {
				return err
			}
		}
		if c.PhoneNumber != nil && c.PhoneNumber.Throughput > 0 {
			if err := h.throughput(ctx, ev.PhoneNumberID, c.PhoneNumber, log); err != nil {
				return err
			}
		}
		idParts := []string{u.WABAID, u.Metadata.PhoneNumberID, valueDigest(u.Value)}
		if u.EntryTime != 0 {
			idParts = append(idParts, strconv.FormatInt(u.EntryTime, 10))
		}
		if p := c.Preference; p != nil {
			ev.Contact = &event.Contact{WaID: p.WaID}
			idParts = append(idParts, p.WaID, p.Category, p.At)
		}
		ev.EventID = event.AccountEventID(ev.Type, u.TenantID, idParts...)
		evs = append(evs, ev)
	}
	if err := h.push(ctx, rec, evs...); err != nil {
		return fmt.Errorf("%s change of WABA %s: %w", u.Field, u.WABAID, err)
	}
	h.Metrics.Count("AccountEvent", float64(len(evs)), "Field", u.Field)
	log.InfoContext(ctx, "account events pushed", "events", len(evs))
	return nil
}

// throughput records Meta's throughput upgrade on the number so the sender
// paces at the new limit. A number this connector does not serve (Meta
// reports every number of the WABA) has nothing to update.
func (h *Handler) throughput(ctx context.Context, phoneNumberID string, p *event.PhoneNumberChange, log *slog.Logger) error {
	if phoneNumberID == "" {
		log.WarnContext(ctx, "throughput upgrade for a number not registered to the tenant; nothing to update", "display_phone_number", p.DisplayPhoneNumber)
		h.Metrics.Count("ThroughputUpgradeUnmatched", 1)
		return nil
	}
	err := h.Numbers.SetThroughput(ctx, phoneNumberID, p.Throughput)
	if errors.Is(err, tenant.ErrNotFound) {
		// Removed from the registry since the webhook was routed: no
		// number to pace any more.
		log.WarnContext(ctx, "throughput change for a number no longer registered; nothing to update", "phone_number_id", phoneNumberID)
		h.Metrics.Count("ThroughputUpgradeUnmatched", 1)
		return nil
	}
	if err != nil {
		return fault.Retryable(fmt.Errorf("set throughput of %s to %d: %w", phoneNumberID, p.Throughput, err))
	}
	log.InfoContext(ctx, "number throughput upgraded", "phone_number_id", phoneNumberID, "throughput", p.Throughput)
	return nil
}

// Limits records what Meta reports of a portfolio's messaging limit and a
// number's quality; *msglimit.Store satisfies it. Errors are classified
// (Invalid for a tier it does not know).
type Limits interface {
	Apply(ctx context.Context, r msglimit.Report) (bool, error)
}

// messagingLimit keeps the portfolio's tier (current_limit), so the
// sender enforces the tier Meta reports, and the number's health from the
// event (FLAGGED, UNFLAGGED, UPGRADE, DOWNGRADE), so campaigns on a
// flagged number pause (msglimit.Health). An older webhook never
// overwrites a newer report. The event itself reaches the core as
// account.phone_number_quality_update.
func (h *Handler) messagingLimit(ctx context.Context, u whatsapp.Unit, phoneNumberID string, c event.AccountChange, log *slog.Logger) error {
	if h.Limits == nil {
		return nil
	}
	r := msglimit.Report{Portfolio: u.WABAID, Tier: c.PhoneNumber.CurrentLimit, At: time.Unix(u.EntryTime, 0)}
	if msglimit.HealthEvent(c.Event) {
		// A number this connector does not serve ("") has no health to keep.
		r.PhoneNumberID, r.Status = phoneNumberID, c.Event
	}
	if u.EntryTime == 0 {
		t, ok := parseTime(u.ReceivedAt)
		if !ok {
			t = h.now()
		}
		r.At = t
	}
	if _, _, ok := msglimit.TierLimit(r.Tier); !ok {
		r.Tier = "" // absent or a name this version does not know: keep the last tier
	}
	applied, err := h.Limits.Apply(ctx, r)
	if err != nil {
		return fault.Retryable(fmt.Errorf("record messaging limit of WABA %s: %w", u.WABAID, err))
	}
	log.InfoContext(ctx, "messaging limit", "phone_number_id", phoneNumberID, "tier", r.Tier, "event", c.Event, "applied", applied)
	if r.Status != "" && r.PhoneNumberID != "" && (msglimit.Health{Status: r.Status}).Paused() {
		log.WarnContext(ctx, "number flagged by Meta: its campaigns pause", "phone_number_id", phoneNumberID, "event", c.Event)
	}
	return nil
}

// template applies a template webhook to the template's catalog item, so
// the sender checks jobs against Meta's latest word. A template the
// catalog does not hold yet is left to the next sync, which brings it
// whole (a status alone cannot be checked against).
func (h *Handler) template(ctx context.Context, u whatsapp.Unit, c event.AccountChange, log *slog.Logger) error {
	if h.Templates == nil || c.Template.Name == "" || c.Template.Language == "" {
		return nil
	}
	ch := catalog.Change{Quality: c.Template.NewQuality, Category: c.Template.NewCategory}
	if u.Field == event.FieldTemplateStatus {
		ch.Status = templateStatus(c.Event)
	}
	ch.At = time.Unix(u.EntryTime, 0)
	if u.EntryTime == 0 {
		t, ok := parseTime(u.ReceivedAt)
		if !ok {
			t = h.now()
		}
		ch.At = t
	}
	k := catalog.Key{WABAID: u.WABAID, Name: c.Template.Name, Language: c.Template.Language}
	applied, err := h.Templates.Apply(ctx, u.TenantID, k, ch)
	if err != nil {
		return fmt.Errorf("update template catalog of tenant %s: %w", u.TenantID, err)
	}
	log.InfoContext(ctx, "template catalog", "template", c.Template.Name, "language", c.Template.Language,
		"status", ch.Status, "quality", ch.Quality, "category", ch.Category, "applied", applied)
	if !applied {
		h.Metrics.Count("TemplateChangeNotApplied", 1, "Field", u.Field)
	}
	return nil
}

// templateStatus is the status a message_template_status_update event
// leaves the template in: FLAGGED only warns (the template is still
// sendable until Meta disables it, which it reports), REINSTATED is
// APPROVED again.
func templateStatus(ev string) string {
	switch ev {
	case "FLAGGED":
		return ""
	case "REINSTATED":
		return catalog.StatusApproved
	}
	return ev
}

// numberByDisplay finds the tenant's number with this display number; ""
// when the tenant has none.
func (h *Handler) numberByDisplay(ctx context.Context, tenantID, display string) (string, error) {
	t, err := h.Numbers.Tenant(ctx, tenantID)
	if errors.Is(err, tenant.ErrNotFound) {
		return "", fault.PermanentErr(fmt.Errorf("resolve display number %s: %w", display, err))
	}
	if err != nil {
		return "", fault.Retryable(fmt.Errorf("resolve display number %s: %w", display, err))
	}
	want := digits(display)
	for _, id := range t.PhoneNumbers {
		n, err := h.Numbers.Number(ctx, id)
		if errors.Is(err, tenant.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", fault.Retryable(fmt.Errorf("resolve display number %s: %w", display, err))
		}
		if want != "" && digits(n.DisplayPhoneNumber) == want {
			return id, nil
		}
	}
	return "", nil
}

// displayNumber is the business number a change names, if any.
func displayNumber(c event.AccountChange) string {
	if c.PhoneNumber != nil {
		return c.PhoneNumber.DisplayPhoneNumber
	}
	if c.Account != nil {
		return c.Account.PhoneNumber
	}
	return ""
}

// accountTime is the change's own time when Meta gives one, else when the
// webhook received it.
func accountTime(c event.AccountChange, receivedAt string, now time.Time) string {
	switch {
	case c.Preference != nil && c.Preference.At != "":
		return c.Preference.At
	case c.Account != nil && c.Account.VolumeTier != nil && c.Account.VolumeTier.UpdatedAt != "":
		return c.Account.VolumeTier.UpdatedAt
	}
	if t, ok := parseTime(receivedAt); ok {
		return rfc3339(t)
	}
	return rfc3339(now)
}

// valueDigest identifies a change value however it was indented.
func valueDigest(v json.RawMessage) string {
	var buf bytes.Buffer
	b := []byte(v)
	if json.Compact(&buf, v) == nil {
		b = buf.Bytes()
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
