// A vitest globalSetup that provides the test database and builds nothing (see global-setup.ts).
export { provideDatabase as default } from "./global-setup.ts";
