package graphsim

import "net/http"

// messageState is what the simulator remembers of sends.
type messageState struct{}

// routeMessages registers POST /{version}/{phone-number-id}/messages and GET /_sim/messages.
func (s *Sim) routeMessages(mux *http.ServeMux) {}
