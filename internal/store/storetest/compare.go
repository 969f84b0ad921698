package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// canonical returns a deep copy of v with every time.Time in UTC (and without
// a monotonic reading) and every empty map or slice nil. It also returns the
// paths of the non-zero times in v that were not in UTC.
func canonical(v any) (any, []string) {
	src := reflect.ValueOf(v)
	dst := reflect.New(src.Type()).Elem()
	var notUTC []string
	canonicalize(dst, src, "", &notUTC)
	return dst.Interface(), notUTC
}

func canonicalize(dst, src reflect.Value, path string, notUTC *[]string) {
	if src.Type() == timeType {
		t := src.Interface().(time.Time)
		if !t.IsZero() && t.Location() != time.UTC {
			*notUTC = append(*notUTC, fmt.Sprintf("%s (%s)", path, t.Location()))
		}
		dst.Set(reflect.ValueOf(t.UTC()))
		return
	}
	switch src.Kind() {
	case reflect.Struct:
		for i := range src.NumField() {
			canonicalize(dst.Field(i), src.Field(i), path+"."+src.Type().Field(i).Name, notUTC)
		}
	case reflect.Slice:
		if src.Len() == 0 {
			return
		}
		dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Len()))
		for i := range src.Len() {
			canonicalize(dst.Index(i), src.Index(i), fmt.Sprintf("%s[%d]", path, i), notUTC)
		}
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Type().Elem())
		canonicalize(p.Elem(), src.Elem(), path, notUTC)
		dst.Set(p)
	case reflect.Map:
		if src.Len() == 0 {
			return
		}
		dst.Set(reflect.MakeMapWithSize(src.Type(), src.Len()))
		iter := src.MapRange()
		for iter.Next() {
			val := reflect.New(src.Type().Elem()).Elem()
			canonicalize(val, iter.Value(), fmt.Sprintf("%s[%v]", path, iter.Key()), notUTC)
			dst.SetMapIndex(iter.Key(), val)
		}
	default:
		dst.Set(src)
	}
}

// same fails the test unless got equals want after canonical, and reports
// times in got that are not in UTC.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, notUTC := canonical(got)
	w, _ := canonical(want)
	if len(notUTC) > 0 {
		t.Errorf("%s: times not in UTC: %v", what, notUTC)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: mismatch\n got: %s\nwant: %s", what, show(g), show(w))
	}
}

// show renders v for a failure message.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// sameIDs fails the test unless got lists exactly want, in order.
func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}
