package graphsim

import (
	"encoding/json"
	"net/http"
)

// handlePhoneNumber answers GET /{version}/{phone-number-id} the way Meta
// describes a business number; operators use it to check a token before
// onboarding a tenant. It shares its route with media lookups, since both
// are GET /{version}/{id}.
func (s *Sim) handlePhoneNumber(w http.ResponseWriter, r *http.Request, id string) {
	n, ok := s.authorize(w, r, id)
	if !ok {
		return
	}
	level := "STANDARD"
	if n.Throughput >= 1000 {
		level = "HIGH"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id":                   n.PhoneNumberID,
		"display_phone_number": n.DisplayPhoneNumber,
		"verified_name":        "Simulated business " + n.PhoneNumberID,
		"quality_rating":       "GREEN",
		"platform_type":        "CLOUD_API",
		"throughput":           map[string]string{"level": level},
	})
}
