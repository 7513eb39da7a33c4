package campaign

import (
	"context"
	"log/slog"
)

// Campaign event types the core hears.
const (
	EventStarted   = "campaign.started"
	EventProgress  = "campaign.progress"
	EventPaused    = "campaign.paused"
	EventWaiting   = "campaign.waiting_for_capacity"
	EventCompleted = "campaign.completed"
)

// Events reports a campaign's life to the core. A nil *Events reports
// nothing.
type Events struct {
	Queue    Publisher
	QueueURL string
}

// Publish reports one event of the campaign as it is.
func (e *Events) Publish(ctx context.Context, typ string, c Campaign, log *slog.Logger) {}

// Progress reports the campaign's counts.
func (e *Events) Progress(ctx context.Context, c Campaign, log *slog.Logger) {}
