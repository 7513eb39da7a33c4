package event

// Campaign event types: a campaign's life as the core hears it
// (campaign detail field).
const (
	TypeCampaignStarted   = "campaign.started"  // the runner began feeding the audience (once)
	TypeCampaignProgress  = "campaign.progress" // counts, at most every few seconds while it runs
	TypeCampaignPaused    = "campaign.paused"   // by the tenant (reason user) or by the system (quality, template)
	TypeCampaignResumed   = "campaign.resumed"  // running again after paused or waiting_for_capacity
	TypeCampaignWaiting   = "campaign.waiting_for_capacity"
	TypeCampaignCompleted = "campaign.completed" // every row was queued, skipped or refused
	TypeCampaignCancelled = "campaign.cancelled"
	TypeCampaignFailed    = "campaign.failed" // the audience, number or template became unusable
)

// Reasons a campaign was paused (CampaignStatus.Reason).
const (
	CampaignPausedByUser     = "user"     // POST …/pause
	CampaignPausedByQuality  = "quality"  // the number's quality is RED or it is FLAGGED
	CampaignPausedByTemplate = "template" // Meta paused or disabled the template
	CampaignPausedOther      = "other"
)

// CampaignCounts are a campaign's row and message counts, as GET
// …/campaigns/{id} shows them.
type CampaignCounts struct {
	Rows       int64 `json:"rows"`
	Invalid    int64 `json:"invalid"`
	Duplicates int64 `json:"duplicates"`
	Suppressed int64 `json:"suppressed"`
	Queued     int64 `json:"queued"`
	Accepted   int64 `json:"accepted"`
	Sent       int64 `json:"sent"`
	Delivered  int64 `json:"delivered"`
	Read       int64 `json:"read"`
	Failed     int64 `json:"failed"`
}

// CampaignStatus is a campaign as a campaign.* event reports it.
type CampaignStatus struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	ClientRef string `json:"client_ref,omitempty"`
	State     string `json:"state"`
	// Reason says why the campaign was paused (CampaignPausedBy…), and
	// on campaign.failed, campaign.waiting_for_capacity and system
	// pauses Details says it in words.
	Reason  string `json:"reason,omitempty"`
	Details string `json:"details,omitempty"`
	// Template is the campaign's template: name and language.
	Template       CampaignTemplate `json:"template"`
	Counts         CampaignCounts   `json:"counts"`
	FailedByReason map[string]int64 `json:"failed_by_reason,omitempty"`
	Pricing        map[string]int64 `json:"pricing,omitempty"`
}

// CampaignTemplate names a campaign's template.
type CampaignTemplate struct {
	Name     string `json:"name"`
	Language string `json:"language"`
}

// CampaignEventID is the id of a campaign.* event; parts identify the
// occurrence within the campaign (a state's time, a checkpoint), so a
// runner that reports it again after a restart yields the same id.
func CampaignEventID(typ, tenantID, campaignID string, parts ...string) string {
	return ID(append([]string{typ, tenantID, campaignID}, parts...)...)
}
