package connector

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/local/graphsim"
)

// Stopping the connector stops the simulator's status webhooks: nothing is
// left scheduled to post to a webhook that has gone away.
func TestCloseStopsStatusWebhooks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := Start(ctx, Options{AWSAddr: "-", APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0", SinkAddr: "127.0.0.1:0",
		Functions: map[string]Setup{}, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// Statuses due in an hour stay scheduled until Close.
	if err := h.Sim.SetStatusConfig(graphsim.StatusConfig{DelayMS: int(time.Hour / time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, h.GraphURL+"/v23.0/"+DemoPhoneNumberID+"/messages",
		strings.NewReader(`{"messaging_product":"whatsapp","to":"5511999990001","type":"text","text":{"body":"hi"}}`))
	req.Header.Set("Authorization", "Bearer "+DemoAccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("send to the simulator = %d, want 200", resp.StatusCode)
	}
	if got := h.Sim.StatusStats().Pending; got == 0 {
		t.Fatal("no status webhook scheduled for the accepted message")
	}

	h.Close()
	if got := h.Sim.StatusStats().Pending; got != 0 {
		t.Errorf("%d status webhooks still pending after Close", got)
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, 5*time.Second)
	defer waitCancel()
	if err := h.Sim.WaitStatuses(waitCtx); err != nil {
		t.Errorf("status worker still busy after Close: %v", err)
	}
}
