package campaign

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// LinkSchemes are the app schemes a push notification's link may use
// besides https, as the operator allows them (OMNI_PUSH_LINK_SCHEMES: myapp
// for myapp://products/42). The device opens whatever link it is given, so
// a link that is not https or one of these (javascript:, data:, http:) is
// refused: at validation when the template fixes the scheme, and when the
// message is rendered otherwise, which fails the message.
type LinkSchemes []string

// CheckLink says why a push notification must not carry link, or nil.
func (s LinkSchemes) CheckLink(link string) error {
	u, err := url.Parse(link) // lower-cases the scheme
	switch {
	case err != nil || u.Scheme == "":
		return fmt.Errorf("the push link is not an absolute URL: use https://… or an app scheme listed in OMNI_PUSH_LINK_SCHEMES")
	case u.Scheme == "https" && u.Host == "":
		return fmt.Errorf("the push link has no host")
	}
	return s.checkScheme(u.Scheme)
}

func (s LinkSchemes) checkScheme(scheme string) error {
	if scheme == "https" || slices.Contains(s, scheme) {
		return nil
	}
	allowed := strings.Join(append([]string{"https"}, s...), ", ")
	return fmt.Errorf("push link scheme %q is not allowed (allowed: %s; app schemes are listed in OMNI_PUSH_LINK_SCHEMES)", scheme, allowed)
}

// Check reports the push links of d whose scheme is refused, where the
// template fixes it: a link without Liquid, or one whose Liquid comes after
// the scheme (`https://shop.example.com/{{sku}}`). The others are checked
// when rendered.
func (s LinkSchemes) Check(d *Definition) Problems {
	var ps Problems
	for _, name := range d.stepNames() {
		send := d.Steps[name].Send
		if send == nil || !slices.Contains(send.Candidates(), Push) {
			continue
		}
		path := Join(Join("steps", name), "send")
		if t, ok := send.Templates[Push]; ok {
			s.checkTemplate(&ps, Join(Join(Join(path, "templates"), Push), "link"), t.Link)
		} else if send.Template != nil {
			s.checkTemplate(&ps, Join(Join(path, "template"), "link"), send.Template.Link)
		}
	}
	return ps
}

func (s LinkSchemes) checkTemplate(ps *Problems, path, link string) {
	if link == "" {
		return
	}
	literal := link
	if i := strings.Index(link, "{"); i >= 0 {
		literal = link[:i]
	}
	var err error
	switch scheme, _, fixed := strings.Cut(literal, ":"); {
	case literal == link:
		err = s.CheckLink(link)
	case fixed:
		err = s.checkScheme(strings.ToLower(scheme))
	}
	if err != nil {
		ps.add(path, "%v", err)
	}
}
