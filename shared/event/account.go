package event

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Account change fields Meta sends and this contract types. Any other field
// still becomes an account.<field> event with Value only.
const (
	FieldTemplateStatus   = "message_template_status_update"
	FieldTemplateQuality  = "message_template_quality_update"
	FieldTemplateCategory = "template_category_update"
	FieldPhoneQuality     = "phone_number_quality_update"
	FieldPhoneName        = "phone_number_name_update"
	FieldAccountUpdate    = "account_update"
	FieldAccountReview    = "account_review_update"
	FieldUserPreferences  = "user_preferences"
)

// EventThroughputUpgrade is the phone_number_quality_update event that
// raises a number's throughput to UpgradedThroughput.
const EventThroughputUpgrade = "THROUGHPUT_UPGRADE"

// UpgradedThroughput is the messages-per-second limit of a number after
// Meta's automatic throughput upgrade.
const UpgradedThroughput = 1000

// AccountChange is a WABA-level (or number-level) change Meta reported:
// template, quality, name, account, review and user-preference updates
// (type account.<field>). The typed part is set according to Field; Value
// always keeps the change value exactly as Meta sent it, so the core never
// loses a field this contract does not model.
type AccountChange struct {
	Field string `json:"field"`
	// Event is Meta's event or decision, as sent: APPROVED, REJECTED,
	// FLAGGED, PAUSED, THROUGHPUT_UPGRADE, ACCOUNT_RESTRICTION,
	// VERIFIED_ACCOUNT, ...
	Event       string             `json:"event,omitempty"`
	Template    *TemplateChange    `json:"template,omitempty"`
	PhoneNumber *PhoneNumberChange `json:"phone_number,omitempty"`
	Account     *AccountUpdate     `json:"account_update,omitempty"`
	Preference  *UserPreference    `json:"user_preference,omitempty"`
	Value       json.RawMessage    `json:"value"`
}

// TemplateChange is a message template's new status, quality or category.
type TemplateChange struct {
	ID       string `json:"id,omitempty"` // Meta's message_template_id (a number, kept as a string)
	Name     string `json:"name,omitempty"`
	Language string `json:"language,omitempty"`
	// Category is the template's category (status updates).
	Category string `json:"category,omitempty"`
	// Reason is why Meta changed the status (REJECTED, FLAGGED...); "NONE" is left out.
	Reason                  string `json:"reason,omitempty"`
	RejectionDetail         string `json:"rejection_detail,omitempty"`
	RejectionRecommendation string `json:"rejection_recommendation,omitempty"`
	DisableDate             string `json:"disable_date,omitempty"`
	// Quality (quality updates): GREEN, YELLOW, RED, UNKNOWN.
	PreviousQuality string `json:"previous_quality,omitempty"`
	NewQuality      string `json:"new_quality,omitempty"`
	// Categories (category updates).
	PreviousCategory string `json:"previous_category,omitempty"`
	NewCategory      string `json:"new_category,omitempty"`
	CorrectCategory  string `json:"correct_category,omitempty"`
}

// PhoneNumberChange is a business number's new quality, limits or name.
type PhoneNumberChange struct {
	DisplayPhoneNumber string `json:"display_phone_number,omitempty"`
	// PhoneNumberID is the number's id when it is registered with this
	// connector (Meta names the number by its display number only).
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	// Messaging limit tiers (quality updates): TIER_250 ... TIER_UNLIMITED.
	CurrentLimit                     string `json:"current_limit,omitempty"`
	OldLimit                         string `json:"old_limit,omitempty"`
	MaxDailyConversationsPerBusiness string `json:"max_daily_conversations_per_business,omitempty"`
	// Throughput is the messages-per-second limit after a THROUGHPUT_UPGRADE.
	Throughput int `json:"throughput,omitempty"`
	// Name updates.
	RequestedVerifiedName string `json:"requested_verified_name,omitempty"`
	RejectionReason       string `json:"rejection_reason,omitempty"`
}

// AccountUpdate details an account_update change.
type AccountUpdate struct {
	PhoneNumber   string        `json:"phone_number,omitempty"`
	Restrictions  []Restriction `json:"restrictions,omitempty"`
	ViolationType string        `json:"violation_type,omitempty"`
	BanState      string        `json:"ban_state,omitempty"`
	BanDate       string        `json:"ban_date,omitempty"`
	WABA          *WABAInfo     `json:"waba,omitempty"`
	VolumeTier    *VolumeTier   `json:"volume_tier,omitempty"`
}

// Restriction is a restriction Meta put on the account.
type Restriction struct {
	Type string `json:"type"`
	// Expiration is RFC 3339 when Meta gave a Unix time, else as sent.
	Expiration string `json:"expiration,omitempty"`
}

// WABAInfo names the account and partners of a PARTNER_ADDED update.
type WABAInfo struct {
	WABAID                    string   `json:"waba_id,omitempty"`
	OwnerBusinessID           string   `json:"owner_business_id,omitempty"`
	SolutionID                string   `json:"solution_id,omitempty"`
	SolutionPartnerBusinessID []string `json:"solution_partner_business_ids,omitempty"`
}

// VolumeTier is a volume-based pricing tier update.
type VolumeTier struct {
	Tier            string `json:"tier,omitempty"`
	PricingCategory string `json:"pricing_category,omitempty"`
	EffectiveMonth  string `json:"effective_month,omitempty"`
	Region          string `json:"region,omitempty"`
	UpdatedAt       string `json:"updated_at,omitempty"` // RFC 3339
}

// UserPreference is one contact's marketing preference (user_preferences);
// each becomes its own event, about that contact.
type UserPreference struct {
	WaID     string `json:"wa_id"`
	Category string `json:"category,omitempty"` // marketing_messages
	Value    string `json:"value,omitempty"`    // stop, resume
	Detail   string `json:"detail,omitempty"`
	At       string `json:"at,omitempty"` // RFC 3339
}

// metaAccountValue is the union of the account change values this contract
// types.
type metaAccountValue struct {
	Event    string     `json:"event"`
	Decision string     `json:"decision"`
	ID       flexString `json:"message_template_id"`
	Name     string     `json:"message_template_name"`
	Language string     `json:"message_template_language"`
	Category string     `json:"message_template_category"`
	Reason   *string    `json:"reason"`
	Reject   *struct {
		Reason         string `json:"reason"`
		Recommendation string `json:"recommendation"`
	} `json:"rejection_info"`
	DisableInfo *struct {
		DisableDate string `json:"disable_date"`
	} `json:"disable_info"`
	PreviousQuality  string `json:"previous_quality_score"`
	NewQuality       string `json:"new_quality_score"`
	PreviousCategory string `json:"previous_category"`
	NewCategory      string `json:"new_category"`
	CorrectCategory  string `json:"correct_category"`

	DisplayPhoneNumber    flexString `json:"display_phone_number"`
	CurrentLimit          string     `json:"current_limit"`
	OldLimit              string     `json:"old_limit"`
	MaxDaily              flexString `json:"max_daily_conversations_per_business"`
	RequestedVerifiedName string     `json:"requested_verified_name"`
	RejectionReason       *string    `json:"rejection_reason"`

	PhoneNumber     flexString `json:"phone_number"`
	RestrictionInfo []struct {
		Type       string     `json:"restriction_type"`
		Expiration flexString `json:"expiration"`
	} `json:"restriction_info"`
	ViolationInfo *struct {
		Type string `json:"violation_type"`
	} `json:"violation_info"`
	BanInfo *struct {
		State string `json:"waba_ban_state"`
		Date  string `json:"waba_ban_date"`
	} `json:"ban_info"`
	WABAInfo *struct {
		WABAID          flexString   `json:"waba_id"`
		OwnerBusinessID flexString   `json:"owner_business_id"`
		SolutionID      flexString   `json:"solution_id"`
		Partners        []flexString `json:"solution_partner_business_ids"`
	} `json:"waba_info"`
	VolumeTierInfo *struct {
		UpdateTime      flexString `json:"tier_update_time"`
		PricingCategory string     `json:"pricing_category"`
		Tier            string     `json:"tier"`
		EffectiveMonth  string     `json:"effective_month"`
		Region          string     `json:"region"`
	} `json:"volume_tier_info"`

	UserPreferences []struct {
		WaID      flexString `json:"wa_id"`
		Detail    string     `json:"detail"`
		Category  string     `json:"category"`
		Value     string     `json:"value"`
		Timestamp flexString `json:"timestamp"`
	} `json:"user_preferences"`
}

// ParseAccountChanges reads an account change value into its typed form.
// It returns one AccountChange per user preference for user_preferences,
// and exactly one otherwise; a field this contract does not type gives a
// change with Value only. An error means the value is not a JSON object or
// a known field has the wrong JSON types.
func ParseAccountChanges(field string, value json.RawMessage) ([]AccountChange, error) {
	raw := json.RawMessage(strings.TrimSpace(string(value)))
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("parse %s change: value is not a JSON object", field)
	}
	base := AccountChange{Field: field, Value: raw}
	var v metaAccountValue
	switch field {
	case FieldTemplateStatus, FieldTemplateQuality, FieldTemplateCategory, FieldPhoneQuality,
		FieldPhoneName, FieldAccountUpdate, FieldAccountReview, FieldUserPreferences:
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("parse %s change: %w", field, err)
		}
	default:
		return []AccountChange{base}, nil
	}
	c := base
	switch field {
	case FieldTemplateStatus:
		c.Event = v.Event
		t := v.template()
		t.Category = v.Category
		if v.Reason != nil && *v.Reason != "NONE" {
			t.Reason = *v.Reason
		}
		if v.Reject != nil {
			t.RejectionDetail, t.RejectionRecommendation = v.Reject.Reason, v.Reject.Recommendation
		}
		if v.DisableInfo != nil {
			t.DisableDate = v.DisableInfo.DisableDate
		}
		c.Template = t
	case FieldTemplateQuality:
		t := v.template()
		t.PreviousQuality, t.NewQuality = v.PreviousQuality, v.NewQuality
		c.Template = t
	case FieldTemplateCategory:
		t := v.template()
		t.PreviousCategory, t.NewCategory, t.CorrectCategory = v.PreviousCategory, v.NewCategory, v.CorrectCategory
		c.Template = t
	case FieldPhoneQuality:
		c.Event = v.Event
		p := &PhoneNumberChange{
			DisplayPhoneNumber: string(v.DisplayPhoneNumber), CurrentLimit: v.CurrentLimit,
			OldLimit: v.OldLimit, MaxDailyConversationsPerBusiness: string(v.MaxDaily),
		}
		if v.Event == EventThroughputUpgrade {
			p.Throughput = UpgradedThroughput
		}
		c.PhoneNumber = p
	case FieldPhoneName:
		c.Event = v.Decision
		p := &PhoneNumberChange{DisplayPhoneNumber: string(v.DisplayPhoneNumber), RequestedVerifiedName: v.RequestedVerifiedName}
		if v.RejectionReason != nil && *v.RejectionReason != "NONE" {
			p.RejectionReason = *v.RejectionReason
		}
		c.PhoneNumber = p
	case FieldAccountUpdate:
		c.Event = v.Event
		a := &AccountUpdate{PhoneNumber: string(v.PhoneNumber)}
		for _, r := range v.RestrictionInfo {
			exp := UnixTime(string(r.Expiration))
			if exp == "" {
				exp = string(r.Expiration)
			}
			a.Restrictions = append(a.Restrictions, Restriction{Type: r.Type, Expiration: exp})
		}
		if v.ViolationInfo != nil {
			a.ViolationType = v.ViolationInfo.Type
		}
		if v.BanInfo != nil {
			a.BanState, a.BanDate = v.BanInfo.State, v.BanInfo.Date
		}
		if w := v.WABAInfo; w != nil {
			a.WABA = &WABAInfo{WABAID: string(w.WABAID), OwnerBusinessID: string(w.OwnerBusinessID), SolutionID: string(w.SolutionID)}
			for _, p := range w.Partners {
				a.WABA.SolutionPartnerBusinessID = append(a.WABA.SolutionPartnerBusinessID, string(p))
			}
		}
		if t := v.VolumeTierInfo; t != nil {
			a.VolumeTier = &VolumeTier{
				Tier: t.Tier, PricingCategory: t.PricingCategory, EffectiveMonth: t.EffectiveMonth,
				Region: t.Region, UpdatedAt: UnixTime(string(t.UpdateTime)),
			}
		}
		c.Account = a
	case FieldAccountReview:
		c.Event = v.Decision
	case FieldUserPreferences:
		if len(v.UserPreferences) == 0 {
			return nil, fmt.Errorf("parse %s change: no user_preferences", field)
		}
		var out []AccountChange
		for _, p := range v.UserPreferences {
			if p.WaID == "" {
				return nil, fmt.Errorf("parse %s change: a preference has no wa_id", field)
			}
			c := base
			c.Event = p.Value
			c.Preference = &UserPreference{
				WaID: string(p.WaID), Category: p.Category, Value: p.Value, Detail: p.Detail,
				At: UnixTime(string(p.Timestamp)),
			}
			out = append(out, c)
		}
		return out, nil
	}
	return []AccountChange{c}, nil
}

func (v metaAccountValue) template() *TemplateChange {
	return &TemplateChange{ID: string(v.ID), Name: v.Name, Language: v.Language}
}
