"""IncludeFile ships a local CSV with the run; a parameter picks the genre of the playlist."""

import csv
import io
import random

from headwater import FlowSpec, IncludeFile, Parameter, step


class PlayListFlow(FlowSpec):
    """Build a movie playlist of one genre from a CSV that travels with the run."""

    movie_data = IncludeFile("movie_data", help="A CSV of movies", default="movies.csv")
    genre = Parameter("genre", help="Genre of the playlist", default="Sci-Fi")
    recommendations = Parameter("recommendations", help="How many movies", default=3)

    @step
    def start(self):
        """Parse the CSV into columns."""
        rows = list(csv.DictReader(io.StringIO(self.movie_data)))
        self.titles = [r["movie_title"] for r in rows]
        self.genres = [r["genres"] for r in rows]
        self.next(self.bonus_movie, self.genre_movies)

    @step
    def bonus_movie(self):
        """Pick one movie outside the genre, for variety."""
        others = [t for t, g in zip(self.titles, self.genres, strict=True) if self.genre not in g.split("|")]
        self.bonus = others[0] if others else None
        self.next(self.join)

    @step
    def genre_movies(self):
        """Pick the movies of the genre, in a shuffled order."""
        picked = [t for t, g in zip(self.titles, self.genres, strict=True) if self.genre in g.split("|")]
        random.Random(42).shuffle(picked)
        self.movies = picked
        self.next(self.join)

    @step
    def join(self, inputs):
        self.playlist = inputs.genre_movies.movies[: self.recommendations]
        self.bonus = inputs.bonus_movie.bonus
        self.next(self.end)

    @step
    def end(self):
        print(f"Playlist for movies in genre '{self.genre}'")
        for index, movie in enumerate(self.playlist):
            print(f"Pick {index + 1}: '{movie}'")
        print(f"Bonus pick: '{self.bonus}'")


if __name__ == "__main__":
    PlayListFlow()
