package loghub

// Scores are the four Loghub-2.0 accuracy measures of one system, with the
// precision and recall behind the two F1 measures. Lines are grouped by their
// template string: p(i) is the predicted template of line i, t(i) the true one.
type Scores struct {
	// GA is the fraction of lines whose true group {j : t(j) = t(i)} is
	// exactly their predicted group {j : p(j) = p(i)}.
	GA float64
	// PGA and RGA are the predicted groups that equal a true group, over the
	// number of predicted groups and of true groups; FGA is their F1.
	PGA, RGA, FGA float64
	// PA is the fraction of lines with p(i) = t(i) as strings.
	PA float64
	// PTA and RTA count the predicted templates T all of whose lines have
	// true template T, over the number of predicted and of true templates;
	// FTA is their F1.
	PTA, RTA, FTA float64
	// Lines, Predicted and Truth are the number of lines and of distinct
	// predicted and true templates.
	Lines, Predicted, Truth int
}

// Score computes the scores of pred against truth, which must have the same
// length (one template per line, in order).
func Score(pred, truth []string) Scores {
	n := min(len(pred), len(truth))
	s := Scores{Lines: n}
	if n == 0 {
		return s
	}
	predID := intern(pred[:n])
	truthID := intern(truth[:n])
	np, nt := maxPlusOne(predID), maxPlusOne(truthID)
	s.Predicted, s.Truth = np, nt

	predSize := make([]int, np)
	truthSize := make([]int, nt)
	for i := range n {
		predSize[predID[i]]++
		truthSize[truthID[i]]++
	}
	// A predicted group equals a true group exactly when all its lines share
	// one true template and that template has no other lines.
	firstTruth := make([]int, np)
	for i := range firstTruth {
		firstTruth[i] = -1
	}
	pure := make([]bool, np)
	for i := range pure {
		pure[i] = true
	}
	for i := range n {
		p, t := predID[i], truthID[i]
		switch {
		case firstTruth[p] < 0:
			firstTruth[p] = t
		case firstTruth[p] != t:
			pure[p] = false
		}
	}
	// Template strings of the predicted groups, to compare with the truth.
	predText := make([]string, np)
	truthText := make([]string, nt)
	for i := range n {
		predText[predID[i]] = pred[i]
		truthText[truthID[i]] = truth[i]
	}
	groups, templates, gaLines := 0, 0, 0
	for p := range np {
		if !pure[p] {
			continue
		}
		t := firstTruth[p]
		if predSize[p] == truthSize[t] {
			groups++
			gaLines += predSize[p]
		}
		if predText[p] == truthText[t] {
			templates++
		}
	}
	pa := 0
	for i := range n {
		if pred[i] == truth[i] {
			pa++
		}
	}
	s.GA = float64(gaLines) / float64(n)
	s.PA = float64(pa) / float64(n)
	s.PGA, s.RGA = float64(groups)/float64(np), float64(groups)/float64(nt)
	s.FGA = f1(s.PGA, s.RGA)
	s.PTA, s.RTA = float64(templates)/float64(np), float64(templates)/float64(nt)
	s.FTA = f1(s.PTA, s.RTA)
	return s
}

func intern(xs []string) []int {
	ids := make(map[string]int, 64)
	out := make([]int, len(xs))
	for i, x := range xs {
		id, ok := ids[x]
		if !ok {
			id = len(ids)
			ids[x] = id
		}
		out[i] = id
	}
	return out
}

func maxPlusOne(ids []int) int {
	m := 0
	for _, id := range ids {
		m = max(m, id+1)
	}
	return m
}

func f1(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// Mean returns the unweighted mean of the scores of several systems; the
// counts are summed.
func Mean(all []Scores) Scores {
	var m Scores
	if len(all) == 0 {
		return m
	}
	for _, s := range all {
		m.GA += s.GA
		m.PGA += s.PGA
		m.RGA += s.RGA
		m.FGA += s.FGA
		m.PA += s.PA
		m.PTA += s.PTA
		m.RTA += s.RTA
		m.FTA += s.FTA
		m.Lines += s.Lines
		m.Predicted += s.Predicted
		m.Truth += s.Truth
	}
	k := float64(len(all))
	m.GA /= k
	m.PGA /= k
	m.RGA /= k
	m.FGA /= k
	m.PA /= k
	m.PTA /= k
	m.RTA /= k
	m.FTA /= k
	return m
}
