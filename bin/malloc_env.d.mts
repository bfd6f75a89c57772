/** glibc malloc settings for a squall node process (see malloc_env.mjs). */
export declare const MALLOC_ENV: Readonly<Record<string, string>>;
/** Whether malloc settings were chosen for a process with this environment. */
export declare function mallocChosen(env: NodeJS.ProcessEnv): boolean;
