package outbound

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/fault"
)

func f64(v float64) *float64 { return &v }

func base(typ string) Job {
	j := Job{JobID: "job-1", TenantID: "demo", PhoneNumberID: "100000000000001", To: "+5511999990001", Type: typ}
	switch typ {
	case TypeText:
		j.Text = &Text{Body: "hello"}
	case TypeTemplate:
		j.Template = &Template{Name: "order_update", Language: TemplateLanguage{Code: "pt_BR"},
			Components: []TemplateComponent{{Type: "body", Parameters: []TemplateParameter{{Type: "text", Text: "Ana"}}}}}
	case TypeImage:
		j.Image = &Media{Link: "https://example.com/a.jpg", Caption: "a"}
	case TypeVideo:
		j.Video = &Media{ID: "1227829768162607"}
	case TypeAudio:
		j.Audio = &Media{Link: "s3://data/tenants/demo/media/a.ogg"}
	case TypeDocument:
		j.Document = &Media{Link: "https://example.com/a.pdf", Filename: "a.pdf"}
	case TypeSticker:
		j.Sticker = &Media{ID: "1227829768162607"}
	case TypeLocation:
		j.Location = &Location{Latitude: f64(-23.5), Longitude: f64(-46.6), Name: "SP"}
	case TypeContacts:
		j.Contacts = []Contact{{Name: ContactName{FormattedName: "Ana Souza"}, Phones: []Phone{{Phone: "+55 11 99999-0001", WaID: "5511999990001"}}}}
	case TypeInteractive:
		j.Interactive = &Interactive{Type: InteractiveButton, Body: &InteractiveText{Text: "Confirm?"},
			Action: InteractiveAction{Buttons: []ReplyButton{{Type: "reply", Reply: ReplyTitle{ID: "yes", Title: "Yes"}}, {Type: "reply", Reply: ReplyTitle{ID: "no", Title: "No"}}}}}
	case TypeReaction:
		j.Reaction = &Reaction{MessageID: "wamid.A", Emoji: "👍"}
	case TypeRead:
		j.Read = &Receipt{MessageID: "wamid.A"}
	case TypeTyping:
		j.Typing = &Receipt{MessageID: "wamid.A"}
	}
	return j
}

// headerMedia is a template job whose header has one media parameter.
func headerMedia(kind string, m *Media) Job {
	j := base(TypeTemplate)
	p := TemplateParameter{Type: kind}
	switch kind {
	case TypeImage:
		p.Image = m
	case TypeVideo:
		p.Video = m
	case TypeDocument:
		p.Document = m
	}
	j.Template.Components = append([]TemplateComponent{{Type: "header", Parameters: []TemplateParameter{p}}}, j.Template.Components...)
	return j
}

// ctaURL is a valid call-to-action URL message job.
func ctaURL() Job {
	j := base(TypeInteractive)
	j.Interactive.Type = InteractiveCTAURL
	j.Interactive.Action = InteractiveAction{Name: "cta_url", Parameters: &CTAParameters{DisplayText: "Open", URL: "https://example.com/x"}}
	return j
}

func list(sections, rowsPer int) *Interactive {
	in := &Interactive{Type: InteractiveList, Body: &InteractiveText{Text: "Pick"}, Action: InteractiveAction{Button: "Options"}}
	n := 0
	for s := 0; s < sections; s++ {
		sec := ListSection{Title: "S" + string(rune('a'+s))}
		for r := 0; r < rowsPer; r++ {
			sec.Rows = append(sec.Rows, ListRow{ID: "r" + string(rune('a'+n)), Title: "Row"})
			n++
		}
		in.Action.Sections = append(in.Action.Sections, sec)
	}
	return in
}

// validateCase is a job and what Validate says of it.
type validateCase struct {
	name    string
	job     func() Job
	wantErr string // substring of the problem; "" means valid
}

// validateCases are TestValidate's table; TestSchemaAgreesWithValidateCases
// runs them through the published schema too.
var validateCases = []validateCase{
	// Every type, valid.
	{"text", func() Job { return base(TypeText) }, ""},
	{"template", func() Job { return base(TypeTemplate) }, ""},
	{"image by link", func() Job { return base(TypeImage) }, ""},
	{"video by id", func() Job { return base(TypeVideo) }, ""},
	{"audio from own s3 prefix", func() Job { return base(TypeAudio) }, ""},
	{"document with filename", func() Job { return base(TypeDocument) }, ""},
	{"sticker", func() Job { return base(TypeSticker) }, ""},
	{"location", func() Job { return base(TypeLocation) }, ""},
	{"contacts", func() Job { return base(TypeContacts) }, ""},
	{"reply buttons", func() Job { return base(TypeInteractive) }, ""},
	{"reaction", func() Job { return base(TypeReaction) }, ""},
	{"reaction removed", func() Job { j := base(TypeReaction); j.Reaction.Emoji = ""; return j }, ""},
	{"read", func() Job { return base(TypeRead) }, ""},
	{"typing", func() Job { return base(TypeTyping) }, ""},
	{"no phone number id", func() Job { j := base(TypeText); j.PhoneNumberID = ""; return j }, ""},
	{"to without plus", func() Job { j := base(TypeText); j.To = "5511999990001"; return j }, ""},
	{"reply_to", func() Job { j := base(TypeText); j.ReplyTo = "wamid.X"; return j }, ""},

	// Envelope.
	{"missing job_id", func() Job { j := base(TypeText); j.JobID = ""; return j }, "job_id is required"},
	{"missing tenant", func() Job { j := base(TypeText); j.TenantID = ""; return j }, "tenant_id is required"},
	{"tenant with separator", func() Job { j := base(TypeText); j.TenantID = "a:b"; return j }, "tenant_id must be 1 to 64"},
	{"tenant id of 65 characters", func() Job { j := base(TypeText); j.TenantID = strings.Repeat("t", 65); return j }, "tenant_id must be 1 to 64"},
	{"tenant id starting with a dot", func() Job { j := base(TypeText); j.TenantID = ".."; return j }, "tenant_id must be 1 to 64"},
	{"tenant id with a space", func() Job { j := base(TypeText); j.TenantID = "acme corp"; return j }, "tenant_id must be 1 to 64"},
	{"phone number id not numeric", func() Job { j := base(TypeText); j.PhoneNumberID = "abc"; return j }, "phone_number_id"},
	{"missing to", func() Job { j := base(TypeText); j.To = ""; return j }, "to (a phone number) or recipient (a business-scoped user id) is required"},
	{"recipient: a business-scoped user id", func() Job { j := base(TypeText); j.To, j.Recipient = "", "US.13491208655302741918"; return j }, ""},
	{"recipient: a parent business-scoped user id", func() Job { j := base(TypeText); j.To, j.Recipient = "", "US.ENT.11815799212886844830"; return j }, ""},
	{"recipient on a template", func() Job { j := base(TypeTemplate); j.To, j.Recipient = "", "BR.1393000011112222"; return j }, ""},
	{"recipient and to", func() Job { j := base(TypeText); j.Recipient = "US.13491208655302741918"; return j }, "not both"},
	{"recipient a phone number", func() Job { j := base(TypeText); j.To, j.Recipient = "", "+5511999990001"; return j }, "not a business-scoped user id"},
	{"recipient without country", func() Job { j := base(TypeText); j.To, j.Recipient = "", "13491208655302741918"; return j }, "not a business-scoped user id"},
	{"recipient with a lower-case country", func() Job { j := base(TypeText); j.To, j.Recipient = "", "us.13491208655302741918"; return j }, "not a business-scoped user id"},
	{"recipient too long", func() Job { j := base(TypeText); j.To, j.Recipient = "", "US."+strings.Repeat("1", 129); return j }, "not a business-scoped user id"},
	{"to too short", func() Job { j := base(TypeText); j.To = "+1234567"; return j }, "not an E.164"},
	{"to too long", func() Job { j := base(TypeText); j.To = "+1234567890123456"; return j }, "not an E.164"},
	{"to formatted", func() Job { j := base(TypeText); j.To = "+55 11 99999-0001"; return j }, "not an E.164"},
	{"to leading zero", func() Job { j := base(TypeText); j.To = "05511999990001"; return j }, "not an E.164"},
	{"reply_to not a wamid", func() Job { j := base(TypeText); j.ReplyTo = "msg-1"; return j }, "reply_to must be a WhatsApp message id"},
	{"reply_to on read", func() Job { j := base(TypeRead); j.ReplyTo = "wamid.X"; return j }, "reply_to is not allowed"},
	{"missing type", func() Job { j := base(TypeText); j.Type = ""; return j }, "type is required"},
	{"unknown type", func() Job { j := base(TypeText); j.Type = "poll"; return j }, `type "poll" is not supported`},
	{"content missing", func() Job { j := base(TypeText); j.Text = nil; return j }, `"text" object is missing`},
	{"two contents", func() Job { j := base(TypeText); j.Image = &Media{ID: "1"}; return j }, `"image" object is set but type is "text"`},
	{"client_ref too long", func() Job { j := base(TypeText); j.ClientRef = strings.Repeat("x", 257); return j }, "client_ref has 257"},
	{"campaign job", func() Job { j := base(TypeTemplate); j.CampaignID = "cmp_0123456789abcdef0123"; return j }, ""},
	{"campaign_id not a campaign id", func() Job { j := base(TypeTemplate); j.CampaignID = "bf-2026"; return j }, "campaign_id must be a campaign id"},
	{"lane bulk on a text", func() Job { j := base(TypeText); j.Lane = LaneBulk; return j }, ""},
	{"lane interactive on a template", func() Job { j := base(TypeTemplate); j.Lane = LaneInteractive; return j }, ""},
	{"lane unknown", func() Job { j := base(TypeText); j.Lane = "campaign"; return j }, "lane must be"},

	// Text.
	{"text 4096 chars", func() Job { j := base(TypeText); j.Text.Body = strings.Repeat("é", 4096); return j }, ""},
	{"text 4097 chars", func() Job { j := base(TypeText); j.Text.Body = strings.Repeat("é", 4097); return j }, "text.body has 4097 characters, limit 4096"},
	{"empty text", func() Job { j := base(TypeText); j.Text.Body = " "; return j }, "text.body is required"},

	// Media.
	{"caption 1024", func() Job { j := base(TypeImage); j.Image.Caption = strings.Repeat("c", 1024); return j }, ""},
	{"caption 1025", func() Job { j := base(TypeImage); j.Image.Caption = strings.Repeat("c", 1025); return j }, "image.caption has 1025 characters, limit 1024"},
	{"audio caption", func() Job { j := base(TypeAudio); j.Audio.Caption = "x"; return j }, "cannot have a caption"},
	{"sticker caption", func() Job { j := base(TypeSticker); j.Sticker.Caption = "x"; return j }, "cannot have a caption"},
	{"image filename", func() Job { j := base(TypeImage); j.Image.Filename = "a.jpg"; return j }, "only a document has a filename"},
	{"id and link", func() Job { j := base(TypeImage); j.Image.ID = "1"; return j }, "not both"},
	{"neither id nor link", func() Job { j := base(TypeImage); j.Image.Link = ""; return j }, "id or link is required"},
	{"media id not numeric", func() Job { j := base(TypeVideo); j.Video.ID = "abc"; return j }, "must be a Meta media id"},
	{"ftp link", func() Job { j := base(TypeImage); j.Image.Link = "ftp://example.com/a.jpg"; return j }, "scheme must be"},
	{"s3 of another tenant", func() Job { j := base(TypeAudio); j.Audio.Link = "s3://data/tenants/other/a.ogg"; return j }, "under tenants/demo/"},
	{"s3 escaping the prefix", func() Job { j := base(TypeAudio); j.Audio.Link = "s3://data/tenants/demo/../other/a.ogg"; return j }, ". or .. segments"},
	{"s3 without key", func() Job { j := base(TypeAudio); j.Audio.Link = "s3://data"; return j }, "s3://bucket/key"},
	{"S3 in capitals, own prefix", func() Job { j := base(TypeAudio); j.Audio.Link = "S3://data/tenants/demo/media/a.ogg"; return j }, ""},
	{"S3 in capitals, another tenant", func() Job { j := base(TypeAudio); j.Audio.Link = "S3://data/tenants/other/a.ogg"; return j }, "audio.link: s3 key must be under tenants/demo/"},
	{"s3 percent-encoded escape", func() Job { j := base(TypeAudio); j.Audio.Link = "s3://data/tenants/demo/%2e%2e/other/a.ogg"; return j }, "must not contain a backslash, %"},
	{"s3 empty segment", func() Job { j := base(TypeAudio); j.Audio.Link = "s3://data/tenants/demo//a.ogg"; return j }, "empty, . or .. segments"},
	{"s3 tenant id as a prefix of another", func() Job { j := base(TypeAudio); j.Audio.Link = "s3://data/tenants/demo2/a.ogg"; return j }, "under tenants/demo/"},

	// Location, contacts.
	{"latitude missing", func() Job { j := base(TypeLocation); j.Location.Latitude = nil; return j }, "location.latitude"},
	{"longitude out of range", func() Job { j := base(TypeLocation); j.Location.Longitude = f64(181); return j }, "location.longitude"},
	{"contact without formatted name", func() Job { j := base(TypeContacts); j.Contacts[0].Name.FormattedName = ""; return j }, "formatted_name is required"},
	{"contact birthday that is not a date", func() Job { j := base(TypeContacts); j.Contacts[0].Birthday = "31/12/1990"; return j }, "birthday must be a date"},
	{"contact birthday on a day the month lacks", func() Job { j := base(TypeContacts); j.Contacts[0].Birthday = "1990-02-30"; return j }, "birthday must be a date"},
	{"no contacts", func() Job { j := base(TypeContacts); j.Contacts = []Contact{}; return j }, "1 to 5 contacts"},
	{"contact phone without phone", func() Job {
		j := base(TypeContacts)
		j.Contacts[0].Phones = append(j.Contacts[0].Phones, Phone{WaID: "5511999990002", Type: "WORK"})
		return j
	}, "contacts[0].phones[1].phone is required"},
	{"contact url as an s3 reference", func() Job {
		j := base(TypeContacts)
		j.Contacts[0].URLs = []ContactURL{{URL: "s3://data/tenants/other/card.vcf"}}
		return j
	}, "contacts[0].urls[0].url: s3:// references are only allowed as media links"},

	// Reply buttons.
	{"3 buttons", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Action.Buttons = append(j.Interactive.Action.Buttons, ReplyButton{Type: "reply", Reply: ReplyTitle{ID: "m", Title: "Maybe"}})
		return j
	}, ""},
	{"4 buttons", func() Job {
		j := base(TypeInteractive)
		for _, id := range []string{"a", "b"} {
			j.Interactive.Action.Buttons = append(j.Interactive.Action.Buttons, ReplyButton{Type: "reply", Reply: ReplyTitle{ID: id, Title: id}})
		}
		return j
	}, "1 to 3 buttons, got 4"},
	{"button title 20", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Action.Buttons[0].Reply.Title = strings.Repeat("t", 20)
		return j
	}, ""},
	{"button title 21", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Action.Buttons[0].Reply.Title = strings.Repeat("t", 21)
		return j
	}, "reply.title has 21 characters, limit 20"},
	{"duplicate button ids", func() Job { j := base(TypeInteractive); j.Interactive.Action.Buttons[1].Reply.ID = "yes"; return j }, "must be unique"},
	{"button type", func() Job { j := base(TypeInteractive); j.Interactive.Action.Buttons[0].Type = "url"; return j }, `type must be "reply"`},
	{"no body", func() Job { j := base(TypeInteractive); j.Interactive.Body = nil; return j }, "interactive.body is required"},
	{"body 1025", func() Job { j := base(TypeInteractive); j.Interactive.Body.Text = strings.Repeat("b", 1025); return j }, "interactive.body.text has 1025"},
	{"footer 61", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Footer = &InteractiveText{Text: strings.Repeat("f", 61)}
		return j
	}, "footer.text has 61"},
	{"image header needs image", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Header = &InteractiveHeader{Type: "image"}
		return j
	}, "header.image is required"},
	{"text header carrying another tenant's image", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Header = &InteractiveHeader{Type: "text", Text: "Hi", Image: &Media{Link: "s3://data/tenants/other/a.jpg"}}
		return j
	}, `interactive.header.image is set but the header type is "text"`},
	{"...whose link is checked too", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Header = &InteractiveHeader{Type: "text", Text: "Hi", Image: &Media{Link: "s3://data/tenants/other/a.jpg"}}
		return j
	}, "interactive.header.image.link: s3 key must be under tenants/demo/"},
	{"interactive type", func() Job { j := base(TypeInteractive); j.Interactive.Type = "carousel"; return j }, "interactive.type must be"},

	// Lists.
	{"list 10 sections x 1 row", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(10, 1)
		return j
	}, ""},
	{"list 11 sections", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(11, 1)
		return j
	}, "1 to 10 sections, got 11"},
	{"list 11 rows", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(1, 11)
		return j
	}, "at most 10 rows in total, got 11"},
	{"row title 24", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(1, 1)
		j.Interactive.Action.Sections[0].Rows[0].Title = strings.Repeat("r", 24)
		return j
	}, ""},
	{"row title 25", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(1, 1)
		j.Interactive.Action.Sections[0].Rows[0].Title = strings.Repeat("r", 25)
		return j
	}, "rows[0].title has 25 characters, limit 24"},
	{"row description 72", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(1, 1)
		j.Interactive.Action.Sections[0].Rows[0].Description = strings.Repeat("d", 72)
		return j
	}, ""},
	{"row description 73", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(1, 1)
		j.Interactive.Action.Sections[0].Rows[0].Description = strings.Repeat("d", 73)
		return j
	}, "description has 73 characters, limit 72"},
	{"section title 25", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(1, 1)
		j.Interactive.Action.Sections[0].Title = strings.Repeat("s", 25)
		return j
	}, "sections[0].title has 25"},
	{"untitled section among several", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(2, 1)
		j.Interactive.Action.Sections[1].Title = ""
		return j
	}, "sections[1].title is required"},
	{"list button 21", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(1, 1)
		j.Interactive.Action.Button = strings.Repeat("b", 21)
		return j
	}, "action.button has 21"},

	// CTA URL.
	{"cta url", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Type, j.Interactive.Action = InteractiveCTAURL, InteractiveAction{Name: "cta_url", Parameters: &CTAParameters{DisplayText: "Open", URL: "https://example.com"}}
		return j
	}, ""},
	{"cta url not http", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Type, j.Interactive.Action = InteractiveCTAURL, InteractiveAction{Name: "cta_url", Parameters: &CTAParameters{DisplayText: "Open", URL: "javascript:alert(1)"}}
		return j
	}, "parameters.url must be an http(s) URL"},

	// Templates.
	{"template without name", func() Job { j := base(TypeTemplate); j.Template.Name = ""; return j }, "template.name is required"},
	{"template without language", func() Job { j := base(TypeTemplate); j.Template.Language.Code = ""; return j }, "template.language.code is required"},
	{"template bad policy", func() Job { j := base(TypeTemplate); j.Template.Language.Policy = "fallback"; return j }, "policy"},
	{"parameter without type", func() Job {
		j := base(TypeTemplate)
		j.Template.Components[0].Parameters[0] = TemplateParameter{Text: "x"}
		return j
	}, "parameters[0].type must be one of"},
	{"parameter without value", func() Job {
		j := base(TypeTemplate)
		j.Template.Components[0].Parameters[0] = TemplateParameter{Type: "text"}
		return j
	}, `needs its value in "text"`},
	{"parameter empty value", func() Job {
		j := base(TypeTemplate)
		j.Template.Components[0].Parameters[0] = TemplateParameter{Type: "text", Text: " "}
		return j
	}, "must not be empty"},
	{"button without index", func() Job {
		j := base(TypeTemplate)
		j.Template.Components = append(j.Template.Components, TemplateComponent{Type: "button", SubType: "quick_reply",
			Parameters: []TemplateParameter{{Type: "payload", Payload: "p"}}})
		return j
	}, "index must be 0 to 9"},
	{"button with string index", func() Job {
		j := base(TypeTemplate)
		j.Template.Components = append(j.Template.Components, TemplateComponent{Type: "button", SubType: "quick_reply", Index: "1",
			Parameters: []TemplateParameter{{Type: "payload", Payload: "p"}}})
		return j
	}, ""},
	{"component type", func() Job { j := base(TypeTemplate); j.Template.Components[0].Type = "footer"; return j }, "must be header, body, button, carousel or limited_time_offer"},
	{"header image from the tenant's S3", func() Job {
		return headerMedia(TypeImage, &Media{Link: "s3://data/tenants/demo/media/banner.jpg"})
	}, ""},
	{"header document by id", func() Job {
		return headerMedia(TypeDocument, &Media{ID: "1227829768162607", Filename: "invoice.pdf"})
	}, ""},
	{"header image from another tenant's S3", func() Job {
		return headerMedia(TypeImage, &Media{Link: "s3://data/tenants/other/banner.jpg"})
	}, "parameters[0].image.link: s3 key must be under tenants/demo/"},
	{"header video with id and link", func() Job {
		return headerMedia(TypeVideo, &Media{ID: "1227829768162607", Link: "https://example.com/v.mp4"})
	}, "set id or link, not both"},
	{"header image without id or link", func() Job {
		return headerMedia(TypeImage, &Media{Caption: "x"})
	}, "id or link is required"},
	{"text parameter carrying another tenant's image", func() Job {
		j := base(TypeTemplate)
		j.Template.Components[0].Parameters[0].Image = &Media{Link: "s3://data/tenants/other/banner.jpg"}
		return j
	}, `parameters[0]: a "text" parameter cannot carry "image"`},
	{"...and its link is checked too", func() Job {
		j := base(TypeTemplate)
		j.Template.Components[0].Parameters[0].Image = &Media{Link: "s3://data/tenants/other/banner.jpg"}
		return j
	}, "template.components[0].parameters[0].image.link: s3 key must be under tenants/demo/"},
	{"unknown parameter type", func() Job {
		j := base(TypeTemplate)
		j.Template.Components[0].Parameters[0] = TemplateParameter{Type: "sticker"}
		return j
	}, "parameters[0].type must be one of"},
	{"currency parameter", func() Job {
		j := base(TypeTemplate)
		amount := int64(100990)
		j.Template.Components[0].Parameters[0] = TemplateParameter{Type: "currency", Currency: &TemplateCurrency{FallbackValue: "$100.99", Code: "USD", Amount1000: &amount}}
		return j
	}, ""},
	{"currency without amount", func() Job {
		j := base(TypeTemplate)
		j.Template.Components[0].Parameters[0] = TemplateParameter{Type: "currency", Currency: &TemplateCurrency{FallbackValue: "$100.99", Code: "USD"}}
		return j
	}, "currency.amount_1000 is required"},
	{"date_time without fallback", func() Job {
		j := base(TypeTemplate)
		j.Template.Components[0].Parameters[0] = TemplateParameter{Type: "date_time", DateTime: &TemplateDateTime{}}
		return j
	}, "date_time.fallback_value is required"},
	{"location header", func() Job {
		j := base(TypeTemplate)
		j.Template.Components = append(j.Template.Components, TemplateComponent{Type: "header",
			Parameters: []TemplateParameter{{Type: "location", Location: &Location{Latitude: f64(-23.5), Longitude: f64(-46.6)}}}})
		return j
	}, ""},
	{"location header out of range", func() Job {
		j := base(TypeTemplate)
		j.Template.Components = append(j.Template.Components, TemplateComponent{Type: "header",
			Parameters: []TemplateParameter{{Type: "location", Location: &Location{Latitude: f64(-91), Longitude: f64(-46.6)}}}})
		return j
	}, "parameters[0].location.latitude is required, between -90 and 90"},
	{"header media with a caption", func() Job {
		return headerMedia(TypeImage, &Media{Link: "https://example.com/a.jpg", Caption: "x"})
	}, "a template parameter's media has no caption"},
	{"catalog button action", func() Job {
		j := base(TypeTemplate)
		j.Template.Components = append(j.Template.Components, TemplateComponent{Type: "button", SubType: "CATALOG", Index: 0.0,
			Parameters: []TemplateParameter{{Type: "action", Action: &TemplateButtonAction{ThumbnailProductRetailerID: "2lc20305pt"}}}})
		return j
	}, ""},
	{"every kind of parameter", func() Job {
		j := base(TypeTemplate)
		amount := int64(1500)
		j.Template.Components = []TemplateComponent{
			{Type: "header", Parameters: []TemplateParameter{{Type: "video", Video: &Media{ID: "1227829768162607"}}}},
			{Type: "body", Parameters: []TemplateParameter{
				{Type: "text", ParameterName: "customer_name", Text: "Ana"},
				{Type: "currency", Currency: &TemplateCurrency{FallbackValue: "R$ 1,50", Code: "BRL", Amount1000: &amount}},
				{Type: "date_time", DateTime: &TemplateDateTime{FallbackValue: "5 de dezembro"}},
			}},
			{Type: "button", SubType: "quick_reply", Index: "0", Parameters: []TemplateParameter{{Type: "payload", Payload: "YES"}}},
			{Type: "button", SubType: "copy_code", Index: 1.0, Parameters: []TemplateParameter{{Type: "coupon_code", CouponCode: "SAVE10"}}},
			{Type: "button", SubType: "flow", Index: 2.0, Parameters: []TemplateParameter{{Type: "action", Action: &TemplateButtonAction{FlowToken: "tok-1"}}}},
		}
		return j
	}, ""},
	{"button index as a padded string", func() Job {
		j := base(TypeTemplate)
		j.Template.Components = append(j.Template.Components, TemplateComponent{Type: "button", SubType: "quick_reply", Index: "01",
			Parameters: []TemplateParameter{{Type: "payload", Payload: "p"}}})
		return j
	}, "index must be 0 to 9"},
	{"interactive headers of every kind", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Header = &InteractiveHeader{Type: "video", Video: &Media{ID: "1227829768162607", Caption: "v"}}
		return j
	}, ""},
	{"document header", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Header = &InteractiveHeader{Type: "document", Document: &Media{Link: "https://example.com/a.pdf", Filename: "a.pdf"}}
		j.Interactive.Footer = &InteractiveText{Text: "Thanks"}
		return j
	}, ""},
	{"image header", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Header = &InteractiveHeader{Type: "image", Image: &Media{Link: "s3://data/tenants/demo/a.jpg"}}
		return j
	}, ""},
	{"blank footer", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Footer = &InteractiveText{Text: " "}
		return j
	}, "interactive.footer.text is required"},
	{"list fields on a button message", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Action.Button = "Options"
		return j
	}, "interactive.action.button does not belong to a button message"},
	{"contact card with a web address", func() Job {
		j := base(TypeContacts)
		j.Contacts[0].URLs = []ContactURL{{URL: "https://example.com", Type: "WORK"}}
		return j
	}, ""},
	// One row for each remaining rule of Validate (TestEveryValidateRuleHasACase).
	{"job_id too long", func() Job { j := base(TypeText); j.JobID = strings.Repeat("j", MaxJobID+1); return j }, "job_id has 129 characters"},
	{"emoji sequence too long", func() Job { j := base(TypeReaction); j.Reaction.Emoji = strings.Repeat("👍", 11); return j }, "reaction.emoji must be a single emoji"},
	{"contact wa_id not digits", func() Job { j := base(TypeContacts); j.Contacts[0].Phones[0].WaID = "+5511"; return j }, "phones[0].wa_id must be digits"},
	{"interactive blank body", func() Job { j := base(TypeInteractive); j.Interactive.Body.Text = " "; return j }, "interactive.body.text is required"},
	{"interactive without body", func() Job { j := base(TypeInteractive); j.Interactive.Body = nil; return j }, "interactive.body is required"},
	{"text header without text", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Header = &InteractiveHeader{Type: "text"}
		return j
	}, "interactive.header.text is required"},
	{"text header too long", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Header = &InteractiveHeader{Type: "text", Text: strings.Repeat("h", MaxHeaderText+1)}
		return j
	}, "interactive.header.text has 61 characters"},
	{"header of unknown type", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Header = &InteractiveHeader{Type: "sticker"}
		return j
	}, "interactive.header.type must be"},
	{"list with an image header", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(1, 1)
		j.Interactive.Header = &InteractiveHeader{Type: "image", Image: &Media{ID: "1227829768162607"}}
		return j
	}, "a list message header must be text"},
	{"button without id", func() Job { j := base(TypeInteractive); j.Interactive.Action.Buttons[0].Reply.ID = ""; return j }, "buttons[0].reply.id is required"},
	{"button id too long", func() Job {
		j := base(TypeInteractive)
		j.Interactive.Action.Buttons[0].Reply.ID = strings.Repeat("i", MaxButtonID+1)
		return j
	}, "buttons[0].reply.id has 257 characters"},
	{"button without title", func() Job { j := base(TypeInteractive); j.Interactive.Action.Buttons[0].Reply.Title = " "; return j }, "buttons[0].reply.title is required"},
	{"list without button text", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(1, 1)
		j.Interactive.Action.Button = ""
		return j
	}, "interactive.action.button is required"},
	{"list section without rows", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(2, 1)
		j.Interactive.Action.Sections[1].Rows = []ListRow{}
		return j
	}, "sections[1].rows must not be empty"},
	{"row without id", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(1, 2)
		j.Interactive.Action.Sections[0].Rows[1].ID = ""
		return j
	}, "rows[1].id is required"},
	{"row id too long", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(1, 1)
		j.Interactive.Action.Sections[0].Rows[0].ID = strings.Repeat("r", MaxRowID+1)
		return j
	}, "rows[0].id has 201 characters"},
	{"row without title", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(1, 1)
		j.Interactive.Action.Sections[0].Rows[0].Title = ""
		return j
	}, "rows[0].title is required"},
	{"row ids repeated across sections", func() Job {
		j := base(TypeText)
		j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(2, 1)
		j.Interactive.Action.Sections[1].Rows[0].ID = j.Interactive.Action.Sections[0].Rows[0].ID
		return j
	}, "is not unique"},
	{"cta_url with another action name", func() Job {
		j := ctaURL()
		j.Interactive.Action.Name = "cta"
		return j
	}, `interactive.action.name must be "cta_url"`},
	{"cta_url without parameters", func() Job { j := ctaURL(); j.Interactive.Action.Parameters = nil; return j }, "interactive.action.parameters is required"},
	{"cta_url without display text", func() Job { j := ctaURL(); j.Interactive.Action.Parameters.DisplayText = ""; return j }, "parameters.display_text is required"},
	{"cta_url display text too long", func() Job {
		j := ctaURL()
		j.Interactive.Action.Parameters.DisplayText = strings.Repeat("d", MaxCTADisplayText+1)
		return j
	}, "parameters.display_text has 21 characters"},
	{"cta_url", func() Job { return ctaURL() }, ""},
	{"template name too long", func() Job {
		j := base(TypeTemplate)
		j.Template.Name = strings.Repeat("n", MaxTemplateName+1)
		return j
	}, "template.name has 513 characters"},
	{"body component with an index", func() Job { j := base(TypeTemplate); j.Template.Components[0].Index = "0"; return j }, "sub_type and index belong to button components only"},
	{"button component without sub_type", func() Job {
		j := base(TypeTemplate)
		j.Template.Components = append(j.Template.Components, TemplateComponent{Type: "button", Index: "0",
			Parameters: []TemplateParameter{{Type: "payload", Payload: "p"}}})
		return j
	}, "components[1].sub_type is required"},
	{"blank payload", func() Job {
		j := base(TypeTemplate)
		j.Template.Components = append(j.Template.Components, TemplateComponent{Type: "button", SubType: "quick_reply", Index: "0",
			Parameters: []TemplateParameter{{Type: "payload", Payload: " "}}})
		return j
	}, "parameters[0].payload is required"},
	{"blank coupon code", func() Job {
		j := base(TypeTemplate)
		j.Template.Components = append(j.Template.Components, TemplateComponent{Type: "button", SubType: "copy_code", Index: "0",
			Parameters: []TemplateParameter{{Type: "coupon_code", CouponCode: " "}}})
		return j
	}, "parameters[0].coupon_code is required"},
	{"currency without fallback or code", func() Job {
		j := base(TypeTemplate)
		amount := int64(100)
		j.Template.Components[0].Parameters[0] = TemplateParameter{Type: "currency", Currency: &TemplateCurrency{Amount1000: &amount}}
		return j
	}, "currency.fallback_value is required"},
	{"empty button action", func() Job {
		j := base(TypeTemplate)
		j.Template.Components = append(j.Template.Components, TemplateComponent{Type: "button", SubType: "flow", Index: 0.0,
			Parameters: []TemplateParameter{{Type: "action", Action: &TemplateButtonAction{}}}})
		return j
	}, "action needs thumbnail_product_retailer_id (catalog, multi-product) or flow_token (flow)"},
	{"image parameter in the body", func() Job {
		j := base(TypeTemplate)
		j.Template.Components[0].Parameters[0] = TemplateParameter{Type: "image", Image: &Media{Link: "https://example.com/a.jpg"}}
		return j
	}, "image parameters belong in the header component"},

	// Reactions and receipts.
	{"reaction to a non-wamid", func() Job { j := base(TypeReaction); j.Reaction.MessageID = "123"; return j }, "reaction.message_id must be"},
	{"read without id", func() Job { j := base(TypeRead); j.Read.MessageID = ""; return j }, "read.message_id is required"},
	{"typing without id", func() Job { j := base(TypeTyping); j.Typing.MessageID = ""; return j }, "typing.message_id is required"},
}

func TestValidate(t *testing.T) {
	for _, tt := range validateCases {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.job())
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate = %v, want valid", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want error containing %q", tt.wantErr)
			}
			if got := fault.ClassOf(err); got != fault.Invalid {
				t.Errorf("class = %v, want invalid", got)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeRejectsUnknownFields(t *testing.T) {
	tests := []struct{ name, body string }{
		{"typo in envelope", `{"job_id":"j","tenant_id":"demo","to":"5511999990001","type":"text","txt":{"body":"x"}}`},
		{"typo in content", `{"job_id":"j","tenant_id":"demo","to":"5511999990001","type":"text","text":{"bdy":"x"}}`},
		{"not an object", `["x"]`},
		{"trailing data", `{"job_id":"j"} {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.body))
			if err == nil || fault.ClassOf(err) != fault.Invalid {
				t.Errorf("Decode(%s) = %v, want an invalid-input error", tt.body, err)
			}
		})
	}
}

func TestGroupID(t *testing.T) {
	j := base(TypeText)
	if got, want := j.GroupID(), "demo:100000000000001:5511999990001"; got != want {
		t.Errorf("GroupID = %q, want %q", got, want)
	}
}

// TestMediaRefsFindEveryMedia fills every media object the Job type can
// hold and checks that MediaRefs returns each one: the sender resolves
// s3:// links and Validate checks links only through MediaRefs, so a media
// field it missed would reach Meta unchecked.
func TestMediaRefsFindEveryMedia(t *testing.T) {
	var j Job
	n := fillMedia(reflect.ValueOf(&j).Elem(), new(int))
	if n == 0 {
		t.Fatal("found no media field")
	}
	refs := j.MediaRefs()
	seen := map[string]bool{}
	for _, r := range refs {
		seen[r.Media.Link] = true
		if r.Path == "" || r.Kind == "" {
			t.Errorf("ref %+v has no path or kind", r)
		}
	}
	for i := 1; i <= n; i++ {
		if link := fmt.Sprintf("s3://data/tenants/demo/%d", i); !seen[link] {
			t.Errorf("MediaRefs misses media %s (%d media in the job, %d refs)", link, n, len(refs))
		}
	}
}

var mediaType = reflect.TypeFor[Media]()

// fillMedia allocates every pointer and one element of every slice under
// v, gives each Media a numbered link, and returns how many it filled. A
// recursive type (a carousel card holds template components) is entered
// twice on a path, so media below one level of nesting are found too.
func fillMedia(v reflect.Value, n *int) int { return fillMediaIn(v, n, map[reflect.Type]int{}) }

func fillMediaIn(v reflect.Value, n *int, onPath map[reflect.Type]int) int {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return fillMediaIn(v.Elem(), n, onPath)
	case reflect.Slice:
		if onPath[v.Type()] >= 2 {
			return 0
		}
		onPath[v.Type()]++
		defer func() { onPath[v.Type()]-- }()
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		return fillMediaIn(v.Index(0), n, onPath)
	case reflect.Struct:
		if v.Type() == mediaType {
			*n++
			v.Addr().Interface().(*Media).Link = fmt.Sprintf("s3://data/tenants/demo/%d", *n)
			return 1
		}
		total := 0
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				total += fillMediaIn(v.Field(i), n, onPath)
			}
		}
		return total
	}
	return 0
}
