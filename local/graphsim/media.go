package graphsim

import "net/http"

// mediaState is what the simulator remembers of media.
type mediaState struct{}

// routeMedia registers GET /{version}/{media-id}, the download URLs and POST /{version}/{phone-number-id}/media.
func (s *Sim) routeMedia(mux *http.ServeMux) {}
