module github.com/nonefinity/backend/contracts

go 1.26.8
