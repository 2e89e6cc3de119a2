// Public API of @mmfuse/text-rnn; see the package README.
export {};
