// Package actors holds the actors of the jobsched supervision tree and the messages they
// exchange. The tree (see Spec) is:
//
//	RootSupervisor                     rest_for_one
//	├── Categories                     one_for_one
//	│   └── CategorySupervisor "email" rest_for_one
//	│       ├── Fifo                   ready jobs of the category, in order
//	│       ├── WorkerRegistry         the workers; lends each free one to the Fifo, drains surplus
//	│       └── Workers                one_for_one
//	│           └── Worker × n         one job at a time
//	├── Waiter                         delayed, scheduled and retry-backoff jobs; one timer
//	├── Dispatcher                     routes each ready job to its category
//	└── WorkerBalancer                 re-divides the worker budget every interval
//
// Actors never block on slow work in Receive: store reads run in goroutines whose results come
// back as messages, and each job attempt runs in a goroutine owned by its Worker.
// Admission control happens before any mailbox (the scheduler refuses jobs over a category's
// queue limit), and a Fifo keeps at most Env.FifoMemory jobs in memory: the rest stay in the
// store and are read back as workers drain the queue, so a flood cannot grow memory without bound.
package actors
