package graphsim

import "net/http"

// routeInbound registers POST /_sim/inbound (a simulated user sends a message).
func (s *Sim) routeInbound(mux *http.ServeMux) {}
