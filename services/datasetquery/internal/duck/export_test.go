package duck

// UserDir is userDir for the tests, which look into users' directories.
func UserDir(root, userID string) string { return userDir(root, userID) }

// HoldOpenings makes every session opening of m call hook first (outside
// the manager's lock), so a test can hold one open.
func HoldOpenings(m *Manager, hook func(userID string)) { m.openHook = hook }
