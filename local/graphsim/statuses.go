package graphsim

import "net/http"

// statusState holds the status-webhook switches and queue.
type statusState struct{}

// routeStatuses registers the /_sim/statuses switches.
func (s *Sim) routeStatuses(mux *http.ServeMux) {}

// onAccepted is called by the messages endpoint for every accepted message;
// it schedules the status webhooks Meta would send for it.
func (s *Sim) onAccepted(a Accepted) {}
