// Public API of @mmfuse/audio; see the package README.
export {};
