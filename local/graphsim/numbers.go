package graphsim

import (
	"encoding/json"
	"io"
	"net/http"
)

// routeNumbers registers POST /_sim/numbers: a business number Meta has
// given a business (with its WABA and the business's access token), as
// if it had been set up in Meta's own tools. Locally it is what a
// company brings to `wacloudctl tenant add --validate`.
func (s *Sim) routeNumbers(mux *http.ServeMux) {
	mux.HandleFunc("POST /_sim/numbers", func(w http.ResponseWriter, r *http.Request) {
		var n struct {
			PhoneNumberID      string `json:"phone_number_id"`
			WABAID             string `json:"waba_id"`
			AccessToken        string `json:"access_token"`
			DisplayPhoneNumber string `json:"display_phone_number"`
			Throughput         int    `json:"throughput"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&n); err != nil || !numericID.MatchString(n.PhoneNumberID) || !numericID.MatchString(n.WABAID) || n.AccessToken == "" {
			http.Error(w, `want {"phone_number_id":"<digits>","waba_id":"<digits>","access_token":"…","display_phone_number":"…","throughput":80}`, http.StatusBadRequest)
			return
		}
		if n.DisplayPhoneNumber == "" {
			n.DisplayPhoneNumber = "+1 555-" + n.PhoneNumberID[max(0, len(n.PhoneNumberID)-7):]
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if old, ok := s.numbers()[n.PhoneNumberID]; ok && (old.WABAID != n.WABAID || old.AccessToken != n.AccessToken) {
			replyJSON(w, http.StatusConflict, map[string]string{"error": "the simulator has number " + n.PhoneNumberID + " already, with another WABA or token"})
			return
		}
		s.addNumberLocked(Number{PhoneNumberID: n.PhoneNumberID, WABAID: n.WABAID, AccessToken: n.AccessToken,
			DisplayPhoneNumber: n.DisplayPhoneNumber, Throughput: n.Throughput})
		writeJSON(w, http.StatusOK, map[string]any{"phone_number_id": n.PhoneNumberID, "waba_id": n.WABAID, "display_phone_number": n.DisplayPhoneNumber})
	})
}
