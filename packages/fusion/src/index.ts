// Public API of @mmfuse/fusion; see the package README.
export {};
