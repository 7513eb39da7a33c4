package event_test

import (
	"fmt"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

func ExampleNormalize() {
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"200000000000001","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp",
		"metadata":{"display_phone_number":"15550001111","phone_number_id":"100000000000001"},
		"contacts":[{"profile":{"name":"Ana"},"wa_id":"5511999990000"}],
		"messages":[{"from":"5511999990000","id":"wamid.EXAMPLE","timestamp":"1750000000","type":"image",
			"image":{"id":"987654321","mime_type":"image/jpeg","sha256":"c2hh","caption":"Ol\u00e1"}}]}}]}]}`)
	units, err := whatsapp.Split(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, u := range units {
		u.ReceivedAt = "2025-06-15T15:06:41Z" // set by the webhook
		evs, err := event.Normalize(u, "demo")
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, ev := range evs {
			m := ev.Message
			fmt.Println(ev.Type, ev.TenantID, ev.PhoneNumberID, ev.OccurredAt)
			fmt.Println(ev.Contact.Name, ev.Contact.WaID, ev.OrderKey())
			fmt.Println(m.ID, m.Kind, m.Media.ID, m.Media.MimeType, m.Media.Caption, m.Media.Status)
		}
	}
	// Output:
	// message.received demo 100000000000001 2025-06-15T15:06:40Z
	// Ana 5511999990000 demo:100000000000001:5511999990000
	// wamid.EXAMPLE image 987654321 image/jpeg Olá pending
}
