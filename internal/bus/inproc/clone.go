package inproc

import "reflect"

// deepCopy returns a copy of v that shares no mutable memory with it that a
// handler could reach: slices, maps, pointers and interfaces are duplicated,
// recursively, through exported struct fields. Strings (immutable), funcs,
// channels and unexported fields (time.Time's location, for instance) are
// shared. Nil stays nil and empty stays empty, so the copy is
// reflect.DeepEqual to v.
//
// Payloads are batches of plain data; a pointer cycle would recurse without
// end, and none of the pipeline's element types has pointers at all.
func deepCopy(v any) any {
	if v == nil {
		return nil
	}
	src := reflect.ValueOf(v)
	if !needsDeep(src.Type()) {
		return v
	}
	dst := reflect.New(src.Type()).Elem()
	copyValue(dst, src)
	return dst.Interface()
}

// copyValue sets dst, which is settable and of src's type, to a deep copy of
// src.
func copyValue(dst, src reflect.Value) {
	if !needsDeep(src.Type()) {
		dst.Set(src)
		return
	}
	switch src.Kind() {
	case reflect.Slice:
		if src.IsNil() {
			dst.SetZero() // dst may be reused (map keys and elements)
			return
		}
		n := src.Len()
		s := reflect.MakeSlice(src.Type(), n, n)
		if needsDeep(src.Type().Elem()) {
			for i := range n {
				copyValue(s.Index(i), src.Index(i))
			}
		} else {
			reflect.Copy(s, src)
		}
		dst.Set(s)
	case reflect.Array:
		for i := range src.Len() {
			copyValue(dst.Index(i), src.Index(i))
		}
	case reflect.Map:
		if src.IsNil() {
			dst.SetZero() // dst may be reused (map keys and elements)
			return
		}
		t := src.Type()
		m := reflect.MakeMapWithSize(t, src.Len())
		deepKey, deepElem := needsDeep(t.Key()), needsDeep(t.Elem())
		k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
		for it := src.MapRange(); it.Next(); {
			if deepKey {
				copyValue(k, it.Key())
			} else {
				k.SetIterKey(it)
			}
			if deepElem {
				copyValue(e, it.Value())
			} else {
				e.SetIterValue(it)
			}
			m.SetMapIndex(k, e)
		}
		dst.Set(m)
	case reflect.Pointer:
		if src.IsNil() {
			dst.SetZero() // dst may be reused (map keys and elements)
			return
		}
		p := reflect.New(src.Type().Elem())
		copyValue(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Interface:
		if src.IsNil() {
			dst.SetZero() // dst may be reused (map keys and elements)
			return
		}
		e := reflect.New(src.Elem().Type()).Elem()
		copyValue(e, src.Elem())
		dst.Set(e)
	case reflect.Struct:
		dst.Set(src) // every field, unexported ones included, shallowly
		t := src.Type()
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && needsDeep(f.Type) {
				copyValue(dst.Field(i), src.Field(i))
			}
		}
	default:
		dst.Set(src)
	}
}

// needsDeep reports whether a value of t can reach, through exported fields,
// memory that a shallow copy would share: a slice, map, pointer or interface.
func needsDeep(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		return true
	case reflect.Array:
		return t.Len() > 0 && needsDeep(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && needsDeep(f.Type) {
				return true
			}
		}
		return false
	default:
		return false
	}
}
