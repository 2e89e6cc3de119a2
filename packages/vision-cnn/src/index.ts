// Public API of @mmfuse/vision-cnn; see the package README.
export {};
