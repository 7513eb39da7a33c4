package campaign

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/outbound"
)

// ColumnTo is the audience column naming the recipient (E.164, with or
// without +).
const ColumnTo = "to"

// Parameter columns: "{component}.{key}".
//   - header.1, body.1, body.2 …: a positional template's text parameters,
//     in their order; header.{name}, body.{name}: a named template's;
//   - header.image, header.video, header.document: a media header's link
//     (https://… or s3://…);
//   - button.{index}: the text parameter of the button at index (a URL
//     button's suffix, a copy-code button's code).
var columnRE = regexp.MustCompile(`^(header|body|button)\.([A-Za-z0-9_]+)$`)

func parseColumn(c string) (component, key string, ok bool) {
	m := columnRE.FindStringSubmatch(c)
	if m == nil || len(m[2]) > 64 {
		return "", "", false
	}
	if m[1] == "button" {
		if _, err := strconv.Atoi(m[2]); err != nil {
			return "", "", false
		}
	}
	return m[1], m[2], true
}

var mediaHeaders = map[string]bool{"image": true, "video": true, "document": true}

// Job turns a row into the campaign's outbound job for it: job id
// "{campaign id}-{row}", bulk lane, the template with the row's
// parameters. problems lists why the row cannot be sent (the job's
// contract, then the catalog's check).
func (c Campaign) Job(row Row, t catalog.Template) (outbound.Job, []string) {
	if row.Problem != "" {
		return outbound.Job{}, []string{row.Problem}
	}
	to := strings.TrimSpace(row.Columns[ColumnTo])
	tpl := &outbound.Template{Name: c.Template.Name, Language: outbound.TemplateLanguage{Code: c.Template.Language}}
	named := t.ParameterFormat == catalog.FormatNamed
	type param struct {
		order int
		name  string
		value string
	}
	var header, body []param
	buttons := map[int]string{}
	var mediaKind, mediaLink string
	var problems []string
	cols := make([]string, 0, len(row.Columns))
	for k := range row.Columns {
		cols = append(cols, k)
	}
	sort.Strings(cols)
	for _, k := range cols {
		v := row.Columns[k]
		if k == ColumnTo {
			continue
		}
		comp, key, ok := parseColumn(k)
		if !ok {
			problems = append(problems, fmt.Sprintf("column %q is not a template parameter", k))
			continue
		}
		n, numErr := strconv.Atoi(key)
		switch {
		case comp == "button":
			buttons[n] = v
		case comp == "header" && mediaHeaders[key]:
			mediaKind, mediaLink = key, v
		case named && numErr == nil, !named && numErr != nil:
			problems = append(problems, fmt.Sprintf("column %q does not fit the template's %s parameters", k, strings.ToLower(t.ParameterFormat)))
		case comp == "header":
			header = append(header, param{n, key, v})
		default:
			body = append(body, param{n, key, v})
		}
	}
	if len(problems) > 0 {
		return outbound.Job{}, problems
	}
	text := func(ps []param) []outbound.TemplateParameter {
		if !named {
			sort.Slice(ps, func(i, j int) bool { return ps[i].order < ps[j].order })
		}
		out := make([]outbound.TemplateParameter, 0, len(ps))
		for _, p := range ps {
			tp := outbound.TemplateParameter{Type: "text", Text: p.value}
			if named {
				tp.ParameterName = p.name
			}
			out = append(out, tp)
		}
		return out
	}
	switch {
	case mediaKind != "":
		m := &outbound.Media{Link: mediaLink}
		tp := outbound.TemplateParameter{Type: mediaKind}
		switch mediaKind {
		case "image":
			tp.Image = m
		case "video":
			tp.Video = m
		default:
			tp.Document = m
		}
		tpl.Components = append(tpl.Components, outbound.TemplateComponent{Type: "header", Parameters: []outbound.TemplateParameter{tp}})
	case len(header) > 0:
		tpl.Components = append(tpl.Components, outbound.TemplateComponent{Type: "header", Parameters: text(header)})
	}
	if len(body) > 0 {
		tpl.Components = append(tpl.Components, outbound.TemplateComponent{Type: "body", Parameters: text(body)})
	}
	idx := make([]int, 0, len(buttons))
	for i := range buttons {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	comps, _ := t.Parse()
	for _, i := range idx {
		sub, ptype := buttonKind(comps, i)
		p := outbound.TemplateParameter{Type: ptype}
		if ptype == "coupon_code" {
			p.CouponCode = buttons[i]
		} else {
			p.Text = buttons[i]
		}
		tpl.Components = append(tpl.Components, outbound.TemplateComponent{Type: "button", SubType: sub, Index: strconv.Itoa(i), Parameters: []outbound.TemplateParameter{p}})
	}
	job := outbound.Job{
		JobID: JobID(c.ID, row.N), TenantID: c.TenantID, PhoneNumberID: c.PhoneNumberID, To: to,
		Type: outbound.TypeTemplate, Lane: outbound.LaneBulk, ClientRef: c.ClientRef, CampaignID: c.ID, Template: tpl,
	}
	if err := outbound.Validate(job); err != nil {
		if ve, ok := err.(*outbound.ValidationError); ok {
			return outbound.Job{}, ve.Problems
		}
		return outbound.Job{}, []string{err.Error()}
	}
	if p := catalog.Check(t, tpl); len(p) > 0 {
		return outbound.Job{}, p
	}
	return job, nil
}

// buttonKind is the sub_type and parameter type of the template's button
// at index: a copy-code button takes a coupon_code, others (URL) text.
func buttonKind(comps []catalog.Component, index int) (subType, paramType string) {
	for _, c := range comps {
		if c.Type == "BUTTONS" && index < len(c.Buttons) && c.Buttons[index].Type == "COPY_CODE" {
			return "copy_code", "coupon_code"
		}
	}
	return "url", "text"
}

// JobID is the outbound job id of a campaign's row: the same row always
// gives the same job, which the sender sends once.
func JobID(campaignID string, row int64) string {
	return campaignID + "-" + strconv.FormatInt(row, 10)
}

// RecipientKey is the recipient as duplicates are found: its digits.
func RecipientKey(to string) string {
	var b strings.Builder
	for _, r := range to {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
