package sdk

import (
	"encoding/base64"
	"regexp"
)

func regexpMust(p string) *regexp.Regexp { return regexp.MustCompile(p) }

func b64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
