package duck

// UserDir is userDir for the tests, which look into users' directories.
func UserDir(root, userID string) string { return userDir(root, userID) }
