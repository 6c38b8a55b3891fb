package sdk

import "regexp"

func regexpMust(p string) *regexp.Regexp { return regexp.MustCompile(p) }
