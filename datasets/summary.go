package datasets

import (
	"fmt"
	"sort"
	"strings"
)

// Summary counts a dataset's items per split and defect type, and the files its loader skipped.
type Summary struct {
	Benchmark, Category string
	// Splits are the split names in order ("train", "val", "test").
	Splits []string
	// Defects are the defect types, "good" first then sorted.
	Defects []string
	// Counts[split][defect] is the number of items.
	Counts map[string]map[string]int
	// Skipped lists files found in the layout that are not images (they were not loaded).
	Skipped []string
}

// skippedFiler is implemented by sources that know which files their loader skipped (DiskSource).
type skippedFiler interface{ SkippedFiles() []string }

// Summary counts the dataset's items per split and defect type.
func (d *Dataset) Summary() Summary {
	s := Summary{Benchmark: d.Benchmark, Category: d.Category, Counts: map[string]map[string]int{}}
	defects := map[string]bool{}
	for _, sp := range []*Split{d.Train, d.Val, d.Test} {
		if sp == nil {
			continue
		}
		name := sp.Name
		s.Splits = append(s.Splits, name)
		if s.Counts[name] == nil {
			s.Counts[name] = map[string]int{}
		}
		for _, it := range sp.Items {
			s.Counts[name][it.Defect]++
			defects[it.Defect] = true
		}
		if sf, ok := sp.Source.(skippedFiler); ok && s.Skipped == nil {
			s.Skipped = sf.SkippedFiles()
		}
	}
	for def := range defects {
		if def != GoodDefect {
			s.Defects = append(s.Defects, def)
		}
	}
	sort.Strings(s.Defects)
	if defects[GoodDefect] {
		s.Defects = append([]string{GoodDefect}, s.Defects...)
	}
	return s
}

// Total returns the number of items of a split.
func (s Summary) Total(split string) int {
	n := 0
	for _, c := range s.Counts[split] {
		n += c
	}
	return n
}

// String prints the summary as a small table: one row per defect type, one column per split.
func (s Summary) String() string {
	title := s.Benchmark + "/" + s.Category
	w0 := len(title)
	for _, d := range s.Defects {
		w0 = max(w0, len(d)+2)
	}
	w0 = max(w0, len("  total"))
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s", w0, title)
	for _, sp := range s.Splits {
		fmt.Fprintf(&b, " %6s", sp)
	}
	b.WriteString("\n")
	row := func(label string, count func(split string) int) {
		fmt.Fprintf(&b, "%-*s", w0, label)
		for _, sp := range s.Splits {
			fmt.Fprintf(&b, " %6d", count(sp))
		}
		b.WriteString("\n")
	}
	for _, d := range s.Defects {
		row("  "+d, func(sp string) int { return s.Counts[sp][d] })
	}
	row("  total", s.Total)
	if len(s.Skipped) > 0 {
		fmt.Fprintf(&b, "skipped %d non-image file(s), e.g. %s\n", len(s.Skipped), s.Skipped[0])
	}
	return b.String()
}

// String returns the dataset's summary table.
func (d *Dataset) String() string { return d.Summary().String() }
